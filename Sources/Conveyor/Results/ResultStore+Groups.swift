import Redis

/// Saved groups in Celery's format: `celery-taskset-meta-<gid>` holding
/// `{"result": [["<gid>", null], [[["<tid>", null], null], …]]}` (`GroupResult.as_tuple()`),
/// written like a result (`SETEX` with the result TTL, then `PUBLISH`).
extension ResultStore {
    /// Saves a flat group of task ids.
    func saveGroup(_ groupId: String, taskIds: [String]) async throws {
        let members: [JSON] = taskIds.map { [[.string($0), .null], .null] }
        let value: JSON = ["result": [[.string(groupId), .null], .array(members)]]
        let key = GroupKeys.key(for: groupId)
        let bytes = value.serialized(.python)
        let expiring = (ttl ?? 0) > 0
        let set: [[UInt8]] = expiring ? [Array("SETEX".utf8), Array(key.utf8), Array(String(ttl ?? 0).utf8), bytes]
            : [Array("SET".utf8), Array(key.utf8), bytes]
        let replies = try await redis.pipeline([set, [Array("PUBLISH".utf8), Array(key.utf8), bytes]])
        for case let .error(message) in replies { throw RedisError(.server, message) }
    }

    /// The task ids of a saved group, in order; nil when none is saved.
    /// - Throws: `decodingFailed` when the saved value is not a flat group of tasks (nested groups are not supported).
    func restoreGroup(_ groupId: String) async throws -> [String]? {
        guard let bytes = try await redis.send("GET", GroupKeys.key(for: groupId)).bytes else { return nil }
        guard let json = try? JSON.parse(bytes), let tuple = json["result"]?.array, tuple.count == 2, let members = tuple[1].array else {
            throw ConveyorError(.decodingFailed, "group \(groupId) is not a saved GroupResult")
        }
        return try members.map { member in
            // A task: [[tid, parent], null]; a nested group has a list where the null is.
            guard let pair = member.array, pair.count == 2, pair[1].isNull, let id = pair[0].array?.first?.string else {
                throw ConveyorError(.decodingFailed, "group \(groupId) holds a member that is not a task (nested groups are not supported)")
            }
            return id
        }
    }
}
