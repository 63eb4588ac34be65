@testable import Conveyor
import Foundation
import IOSupport
import Logging
import Testing
import TestSupport

@Suite("Progress: Celery's PROGRESS state, throttled")
struct ProgressTests {
    @Test("progress is readable as PROGRESS with current, total and info while the task runs, then SUCCESS")
    func progressReadable() async throws {
        let queue = TestEnvironment.uniqueQueue("progress")
        let gate = Gate()
        let worker = try await TestWorker(queue: queue) { registry in
            registry.register("test.progress") { context in
                try await context.progress(done: 3, total: 10, info: ["stage": "parsing", "current": 99])
                try await gate.wait()
                return "finished"
            }
        }
        let client = try testClient(queue: queue)
        let handle = try await client.send(taskNamed: "test.progress")
        var seen: TaskResult?
        try await eventually(timeout: hangGuard, "PROGRESS stored") {
            seen = try await client.result(for: handle.id)
            return seen?.state == "PROGRESS"
        }
        let progress = try #require(seen)
        #expect(progress.value == ["current": 3, "total": 10, "stage": "parsing"])
        gate.release()
        #expect(try await handle.get(timeout: hangGuard) == "finished")
        await client.close()
        try await worker.stop()
    }

    @Test("conveyor result ID shows PROGRESS with current and total")
    func cliShowsProgress() async throws {
        let client = try testClient(queue: TestEnvironment.uniqueQueue("progress"))
        let id = TaskID.make()
        #expect(try await client.results.storeProgress(ResultMeta(taskId: id, status: "PROGRESS", result: ["current": 5, "total": 9])))
        let process = try ManagedProcess(try TestEnvironment.requireBinary("conveyor"), ["result", id, "--json"])
        #expect(try await process.waitForExit(timeout: 60) == 0, "\(process.log)")
        let json = try JSON.parse(Array(try #require(process.log.split(separator: "\n").last).utf8))
        #expect(json["state"] == "PROGRESS")
        #expect(json["result"] == ["current": 5, "total": 9])
        try await client.results.forget(id)
        await client.close()
    }

    @Test("a tight loop writes at most one report per 250 ms, the last one is written, and never over a final state")
    func throttled() async throws {
        let client = try testClient(queue: TestEnvironment.uniqueQueue("progress"))
        let id = TaskID.make()
        let context = TaskContext(id: id, name: "test.loop", args: [], kwargs: [:], retries: 0, headers: [:], eta: nil, expires: nil,
                                  rootId: id, parentId: nil, queue: "q", redelivered: false, hostname: "test",
                                  workerLogger: Logger(label: "test"), client: client)
        let began = monotonicSeconds()
        let calls = 2000
        for done in 1...calls { try await context.progress(done: done, total: calls) }
        await context.flushProgress()
        let elapsed = monotonicSeconds() - began
        let writes = context.scope.progressReporter.writes
        // One at the start, one per full interval, one flushed at the end.
        #expect(writes <= 2 + Int(elapsed / ProgressReporter.interval), "\(writes) writes in \(elapsed) s")
        #expect(try await client.result(for: id).value["current"] == .int(Int64(calls)))
        try await client.results.store(ResultMeta(taskId: id, status: .success, result: "done", dateDone: Date()))
        #expect(try await client.results.storeProgress(ResultMeta(taskId: id, status: "PROGRESS", result: ["current": 1])) == false)
        #expect(try await client.result(for: id).state == .success)
        try await client.results.forget(id)
        await client.close()
    }
}
