@testable import Conveyor
import Foundation
import Testing
import TestSupport

/// Groups sent from Swift: results in order, the first failure raised as Celery's
/// `GroupResult.get()` raises it, and `save()`/`restoreGroup` in Celery's format.
@Suite("Groups")
struct GroupTests {
    @Test("a group's results come back in group order, and a saved group restores with the same members")
    func resultsInOrderAndRestore() async throws {
        let queue = TestEnvironment.uniqueQueue("group")
        let worker = try await TestWorker(queue: queue)
        let client = try testClient(queue: queue)
        let group = try await client.group((0..<10).map { Signature(task: "conveyor.add", args: [.int(Int64($0)), 1]) })
        #expect(try await group.get(timeout: hangGuard) == (1...10).map { .int(Int64($0)) })
        try await group.save()
        let stored = try await client.results.redis.send("GET", GroupKeys.key(for: group.id))
        let expected: JSON = ["result": [[.string(group.id), nil], .array(group.taskIds.map { [[.string($0), nil], nil] })]]
        #expect(try JSON.parse(try #require(stored.bytes)) == expected)
        let restored = try #require(try await client.restoreGroup(group.id))
        #expect(restored.taskIds == group.taskIds)
        #expect(try await restored.get(timeout: hangGuard) == (1...10).map { .int(Int64($0)) })
        #expect(try await client.restoreGroup(TaskID.make()) == nil)
        await client.close()
        try await worker.stop()
    }

    @Test("get() throws the first failure in group order")
    func firstFailureThrown() async throws {
        let queue = TestEnvironment.uniqueQueue("group-fail")
        let worker = try await TestWorker(queue: queue)
        let client = try testClient(queue: queue)
        let group = try await client.group([Signature(task: "conveyor.add", args: [1, 1]), Signature(task: "conveyor.fail", args: ["first"]),
                                            Signature(task: "conveyor.fail", args: ["second"])])
        let error = await #expect(throws: ConveyorError.self) { try await group.get(timeout: hangGuard) }
        #expect(error?.code == .taskFailed)
        #expect(error?.exception?.message == "first")
        await client.close()
        try await worker.stop()
    }
}
