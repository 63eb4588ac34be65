import Redis

/// A lock as `conveyor locks` shows it.
public struct LockInfo: Sendable, Hashable {
    public let name: String
    public let holder: String
    public let token: Int64
    /// Milliseconds of the lease left (-1: no expiry, which Conveyor never sets).
    public let millisecondsLeft: Int64
}

/// A concurrency cap's held slots, as `conveyor locks` shows them.
public struct CapInfo: Sendable, Hashable {
    public struct Slot: Sendable, Hashable {
        public let holder: String
        public let millisecondsLeft: Int64
    }
    public let key: String
    public let slots: [Slot]
}

/// Reads what `conveyor locks` lists: keys found with `SCAN` (a bounded number), each read in
/// one pipeline. A key that ends between the scan and the read is left out.
enum CoordinationListing {
    /// Keys under `prefix` (a literal prefix: glob characters are escaped), at most `limit`.
    static func scan(_ redis: RedisConnection, prefix: String, limit: Int) async throws -> [String] {
        let escaped = prefix.reduce(into: "") { text, character in
            if "*?[]\\".contains(character) { text.append("\\") }
            text.append(character)
        }
        var cursor = "0", keys: [String] = []
        // Bounded: a full pass over a big keyspace takes many calls, but never more than this.
        for _ in 0..<100_000 {
            let reply = try await redis.send("SCAN", cursor, "MATCH", escaped + "*", "COUNT", 1000)
            let parts = reply.array ?? []
            guard parts.count == 2 else { break }
            cursor = parts[0].string ?? "0"
            keys += (parts[1].array ?? []).compactMap(\.string)
            if cursor == "0" || keys.count >= limit { break }
        }
        return Array(Set(keys).sorted().prefix(limit))
    }

    static func locks(_ redis: RedisConnection, prefix: String, limit: Int) async throws -> [LockInfo] {
        let keys = try await scan(redis, prefix: Keys.lockPrefix + prefix, limit: limit)
        guard !keys.isEmpty else { return [] }
        var commands: [[[UInt8]]] = []
        for key in keys {
            commands.append([Array("HMGET".utf8), Array(key.utf8), Array("token".utf8), Array("holder".utf8)])
            commands.append([Array("PTTL".utf8), Array(key.utf8)])
        }
        let replies = try await redis.pipeline(commands)
        var out: [LockInfo] = []
        for (index, key) in keys.enumerated() where 2 * index + 1 < replies.count {
            let fields = replies[2 * index].array ?? []
            guard fields.count == 2, let token = fields[0].integer, let left = replies[2 * index + 1].integer, left != -2 else { continue }
            out.append(LockInfo(name: String(key.dropFirst(Keys.lockPrefix.count)), holder: fields[1].string ?? "",
                                token: token, millisecondsLeft: left))
        }
        return out
    }

    static func caps(_ redis: RedisConnection, prefix: String, limit: Int) async throws -> [CapInfo] {
        let keys = try await scan(redis, prefix: Keys.capPrefix + prefix, limit: limit)
        guard !keys.isEmpty else { return [] }
        var commands: [[[UInt8]]] = [[Array("TIME".utf8)]]
        for key in keys { commands.append([Array("ZRANGE".utf8), Array(key.utf8), Array("0".utf8), Array("-1".utf8), Array("WITHSCORES".utf8)]) }
        let replies = try await redis.pipeline(commands)
        let clock = replies.first?.array ?? []
        let now = (clock.first?.integer ?? 0) * 1000 + (clock.count > 1 ? (clock[1].integer ?? 0) / 1000 : 0)
        var out: [CapInfo] = []
        for (index, key) in keys.enumerated() where index + 1 < replies.count {
            let items = replies[index + 1].array ?? []
            var slots: [CapInfo.Slot] = []
            for pair in stride(from: 0, to: items.count - 1, by: 2) {
                // Scores are milliseconds on Redis' clock, written by Conveyor's scripts; read
                // through Double so a foreign value cannot trap the conversion.
                let ends = Double(items[pair + 1].string ?? "") ?? 0
                let left = ends.isFinite ? min(max(ends - Double(now), -1), 1e15) : -1
                if left > 0 { slots.append(.init(holder: items[pair].string ?? "", millisecondsLeft: Int64(left))) }
            }
            if !slots.isEmpty { out.append(CapInfo(key: String(key.dropFirst(Keys.capPrefix.count)), slots: slots)) }
        }
        return out
    }
}

extension Locks {
    /// Locks held now whose names start with `prefix`, at most `limit` (sorted by name).
    public func list(prefix: String = "", limit: Int = 10_000) async throws -> [LockInfo] {
        do {
            return try await CoordinationListing.locks(redis, prefix: prefix, limit: max(1, limit))
        } catch let error as RedisError {
            throw ConveyorError(.backendUnavailable, "locks not listed: \(error.message)")
        }
    }
}

extension ConcurrencyCaps {
    /// Caps with held slots whose keys start with `prefix`, at most `limit` (sorted by key).
    public func list(prefix: String = "", limit: Int = 10_000) async throws -> [CapInfo] {
        do {
            return try await CoordinationListing.caps(redis, prefix: prefix, limit: max(1, limit))
        } catch let error as RedisError {
            throw ConveyorError(.backendUnavailable, "concurrency caps not listed: \(error.message)")
        }
    }
}
