import IOSupport

/// A sent group (Celery's `GroupResult`): its id and its members' task ids, in order.
public struct GroupHandle: Sendable {
    /// The group id (`group` header of every member).
    public let id: String
    /// The members' task ids, in group order.
    public let taskIds: [String]
    let client: ConveyorClient

    /// The members' states now, in order.
    public func results() async throws -> [TaskResult] {
        try await client.results(for: taskIds)
    }

    /// Waits for every member and returns their values in group order. Like Celery's
    /// `GroupResult.get()`, it throws the first failure in group order (`taskFailed` or
    /// `taskRevoked`) once that member is ready, without waiting for the members after it.
    /// - Parameter timeout: seconds for the whole group.
    public func get(timeout: Double) async throws -> [JSON] {
        let deadline = monotonicSeconds() + (try ConveyorClient.checkedWait(timeout, "result timeout"))
        var values: [JSON] = []
        values.reserveCapacity(taskIds.count)
        for id in taskIds {
            values.append(try await client.wait(for: id, timeout: max(0, deadline - monotonicSeconds())).get())
        }
        return values
    }

    /// Stores the group as Celery's `GroupResult.save()` does (`celery-taskset-meta-<gid>`),
    /// so `GroupResult.restore(id)` in Python or `ConveyorClient.restoreGroup` reads it back.
    public func save() async throws {
        do {
            try await client.results.saveGroup(id, taskIds: taskIds)
        } catch {
            throw ConveyorError(.backendUnavailable, "result store unavailable: \(error)")
        }
    }
}
