@testable import Conveyor
import Foundation
import Testing
import TestSupport

/// A task that throws `context.deadLetter(reason:because:)` fails at once, with no retry even
/// under a retry policy, and its message is dead-lettered with the task's reason.
@Suite("Dead letters a task asks for")
struct DeadLetterRequestTests {
    @Test("FAILURE with the wrapped error on the first run; the letter carries the task's reason")
    func taskChoosesReason() async throws {
        let queue = TestEnvironment.uniqueQueue("dl-request")
        let logs = LogRecorder()
        let worker = try await TestWorker(queue: queue, logs: logs) { registry in
            registry.register("test.refused", defaults: TaskDefaults(retry: .exponential(maxRetries: 5))) { context in
                throw context.deadLetter(reason: "Remote Refused!", because: TaskFailure("550 no such user", type: "ValueError"))
            }
        }
        let client = try testClient(queue: queue)
        let handle = try await client.send(taskNamed: "test.refused")
        let result = try await handle.wait(timeout: hangGuard)
        try await eventually(timeout: hangGuard, "the dead letter") { try await DeadLetterBox(client: client).count(queue: queue) == 1 }
        let letters = try await DeadLetterBox(client: client).list(queue: queue)
        try await worker.stop()
        await client.close()
        #expect(result.state == .failure)
        #expect(result.exception?.type == "ValueError" && result.exception?.message == "550 no such user")
        #expect(letters.first?.taskId == handle.id)
        #expect(letters.first?.reason == "remote-refused-")
        #expect(letters.first?.error.contains("550 no such user") == true)
        #expect(logs.count("task retry") == 0)
    }

    @Test("reasons are cleaned to a-z, 0-9 and '-', at most 64, never empty")
    func reasonCleaning() {
        #expect(DeadLetterRequest(reason: "smtp-permanent", error: TaskFailure("x")).reason == "smtp-permanent")
        #expect(DeadLetterRequest(reason: "", error: TaskFailure("x")).reason == "task-failed")
        #expect(DeadLetterRequest(reason: "a\r\nb", error: TaskFailure("x")).reason == "a-b")
        #expect(DeadLetterRequest(reason: String(repeating: "z", count: 100), error: TaskFailure("x")).reason.count == 64)
    }
}
