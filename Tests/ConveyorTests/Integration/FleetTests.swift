import Conveyor
import Foundation
import Testing
import TestSupport

/// What `conveyor status` reads: each worker's heartbeat in Redis.
@Suite("Worker heartbeats, as operators see them")
struct FleetTests {
    private func heartbeat(of hostname: String, _ fleet: Fleet) async throws -> WorkerHeartbeat? {
        try await fleet.workers().first { $0.hostname == hostname }
    }

    @Test("a burst shows in the heartbeat within seconds, not at the next idle beat; an idle worker has none active; a stopped one leaves the list")
    func heartbeatFollowsWork() async throws {
        let queue = TestEnvironment.uniqueQueue("fleet")
        // Idle beats an hour apart: only the change-driven beat can bring the burst in time.
        let worker = try await TestWorker(queue: queue, concurrency: 4, heartbeatInterval: 3600)
        let client = try testClient(queue: queue)
        let fleet = Fleet(client: client)
        let hostname = "test@\(queue)"

        try await eventually(timeout: hangGuard, "the first heartbeat") { try await heartbeat(of: hostname, fleet) != nil }
        let first = try #require(try await heartbeat(of: hostname, fleet))
        #expect(first.state == "online")
        #expect(first.queues == [queue])
        #expect(first.concurrency == 4)
        #expect(first.pid == Int(ProcessInfo.processInfo.processIdentifier))
        #expect(first.tasks.contains("conveyor.add"))

        let handles = try await (0..<12).asyncMap { i in try await client.send(taskNamed: "conveyor.add", args: [.int(Int64(i)), 1]) }
        for (i, handle) in handles.enumerated() { #expect(try await handle.get(timeout: hangGuard) == .int(Int64(i + 1))) }
        let failing = try await client.send(taskNamed: "conveyor.fail", args: ["on purpose"])
        _ = try? await failing.get(timeout: hangGuard)

        try await eventually(timeout: hangGuard, "the heartbeat counts 12 successes and 1 failure") {
            guard let beat = try await heartbeat(of: hostname, fleet) else { return false }
            return beat.succeeded == 12 && beat.failed == 1 && beat.active == 0
        }
        let latest = try #require(try await heartbeat(of: hostname, fleet))
        #expect(latest.startedAt == first.startedAt)
        #expect(latest.sentAt > first.sentAt)

        try await worker.stop()
        #expect(try await heartbeat(of: hostname, fleet) == nil)
        await client.close()
    }
}

extension Sequence {
    /// `map` with an async transform, in order, one at a time.
    fileprivate func asyncMap<T>(_ transform: (Element) async throws -> T) async rethrows -> [T] {
        var result: [T] = []
        for element in self { result.append(try await transform(element)) }
        return result
    }
}
