@testable import Conveyor
import Foundation
import Testing
import TestSupport

/// A result wait ends as soon as its caller is cancelled, however long its own timeout. Each
/// test gives the wait 600 s: ending with CancellationError rather than the timeout's error is
/// the proof that cancellation ended it, without measuring any duration.
@Suite("Result waits end when their caller is cancelled")
struct ResultWaitCancellationTests {
    @Test("a caller cancelled before it waits ends at once with CancellationError")
    func cancelledBeforeWaiting() async throws {
        let client = try testClient(queue: TestEnvironment.uniqueQueue("wait-cancel"))
        let id = UUID().uuidString.lowercased()
        let waiting = Task {
            withUnsafeCurrentTask { $0?.cancel() }
            return try await client.wait(for: id, timeout: 600)
        }
        await #expect(throws: CancellationError.self) { try await waiting.value }
        await client.close()
    }

    @Test("a caller cancelled while it waits (subscribed, nothing stored) ends with CancellationError")
    func cancelledWhileWaiting() async throws {
        let client = try testClient(queue: TestEnvironment.uniqueQueue("wait-cancel"))
        let id = UUID().uuidString.lowercased()
        let channel = ResultMeta.key(for: id)
        let waiting = Task { try await client.wait(for: id, timeout: 600) }
        // The wait is registered once its channel is subscribed.
        try await eventually(timeout: 60, "the wait subscribing to \(channel)") {
            let reply = try await client.redis.send("PUBSUB", "NUMSUB", channel)
            return reply.array?.last?.integer == 1
        }
        waiting.cancel()
        await #expect(throws: CancellationError.self) { try await waiting.value }
        // The last waiter gone, its channel goes too.
        try await eventually(timeout: 60, "\(channel) unsubscribed") {
            let reply = try await client.redis.send("PUBSUB", "NUMSUB", channel)
            return reply.array?.last?.integer == 0
        }
        await client.close()
    }

    /// A wait cancelled while its subscription is still being made can leave the channel
    /// subscribed after its last waiter left (the unsubscribe overtook the subscribe). Whichever
    /// order each of these twenty took, no channel may stay once the task's state is final.
    @Test("waits cancelled while subscribing leave no channel behind once their tasks' results are stored")
    func cancelledWhileSubscribing() async throws {
        let client = try testClient(queue: TestEnvironment.uniqueQueue("wait-cancel"))
        let ids = (0..<20).map { _ in UUID().uuidString.lowercased() }
        // Cancelled at different points: before waiting, while registering, while subscribing.
        var waits: [Task<TaskResult, Error>] = []
        for (index, id) in ids.enumerated() {
            let wait = Task { try await client.wait(for: id, timeout: 600) }
            for _ in 0..<(index % 5) { await Task.yield() }
            wait.cancel()
            waits.append(wait)
        }
        for wait in waits { await #expect(throws: CancellationError.self) { try await wait.value } }
        for id in ids {
            try await client.results.store(ResultMeta(taskId: id, status: .success, result: .int(1), dateDone: Date()))
        }
        for id in ids {
            let channel = ResultMeta.key(for: id)
            try await eventually(timeout: hangGuard, "\(channel) unsubscribed") {
                try await client.redis.send("PUBSUB", "NUMSUB", channel).array?.last?.integer == 0
            }
            _ = try await client.redis.send("DEL", channel)
        }
        await client.close()
    }
}
