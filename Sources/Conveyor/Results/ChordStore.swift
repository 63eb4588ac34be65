import Foundation
import Redis

/// A chord's counting keys in Redis, named and used exactly as Celery 5.7's Redis backend
/// does (`celery-taskset-meta-<gid>` with `.j`, `.t`, `.s`, `.d`, `.c`), so header tasks that
/// finish on Swift and Python workers complete the same chord.
struct ChordKeys: Sendable {
    let group: String

    init(groupId: String) { group = GroupKeys.key(for: groupId) }

    /// Header results: a ZSET scored by `group_index`.
    var results: String { group + ".j" }
    /// Parts added at runtime (`add_to_chord`).
    var added: String { group + ".t" }
    /// The chord size.
    var size: String { group + ".s" }
    /// `<tid>:<index>` of every part already counted.
    var counted: String { group + ".d" }
    /// The body's dispatch claim, then a `done` marker.
    var claim: String { group + ".c" }
}

/// Where saved groups live (`GroupResult.save()`).
enum GroupKeys {
    static func key(for groupId: String) -> String { "celery-taskset-meta-" + groupId }
}

/// What recording one header task's result found (`CHORD_PART_RETURN_LUA`'s reply).
struct ChordPartReturn: Sendable, Equatable {
    /// The chord completed earlier and was cleaned up: this part was a late duplicate.
    var alreadyDone: Bool
    /// Parts recorded so far.
    var ready: Int
    /// The chord size plus parts added at runtime; nil when the size is not (or no longer) known.
    var total: Int?
    /// This call completed the chord and holds the body's dispatch claim.
    var claimed: Bool
}

/// One header task's recorded result: `[1, tid, state, result]`.
struct ChordPart: Sendable {
    var taskId: String
    var state: TaskState
    var result: JSON
}

/// Lifetimes of Celery's chord bookkeeping, from the result TTL (`result_chord_expires` unset).
struct ChordTimings: Sendable {
    /// `chord_expires`: the result TTL; 0 keeps the keys.
    var chordExpires: Int
    /// How long the dispatch claim lasts before another worker may take it (Celery: 10 s with
    /// the default join timeout).
    var claimExpires = 10
    /// The claim while publishing the body: Celery's estimate for its default publish retries.
    var publishClaimExpires = 21
    /// How long the `done` marker turns late duplicates away (Celery: 300 s).
    var doneExpires = 300
}

extension ResultStore {
    var chordTimings: ChordTimings { ChordTimings(chordExpires: ttl ?? 0) }

    /// Records the chord size before its last header task is published: Celery 5.7's
    /// `set_chord_size` (the claim of an earlier run of a reused group id goes first).
    func setChordSize(groupId: String, size: Int) async throws {
        let keys = ChordKeys(groupId: groupId)
        _ = try await redis.send("DEL", keys.claim)
        let expires = chordTimings.chordExpires
        if expires > 0 {
            _ = try await redis.send("SET", keys.size, size, "EX", expires)
        } else {
            _ = try await redis.send("SET", keys.size, size)
        }
    }

    /// Records a header task's part atomically (each `<tid>:<index>` counts once, however often
    /// the task is redelivered) and claims the body's dispatch when the chord is complete.
    func returnChordPart(groupId: String, groupIndex: Int?, part: ChordPart, token: String) async throws -> ChordPartReturn {
        let keys = ChordKeys(groupId: groupId)
        let encoded: JSON = [1, .string(part.taskId), .string(part.state.rawValue), part.result]
        let timings = chordTimings
        let score = groupIndex.map(String.init) ?? "+inf"
        let reply = try await redis.evaluate(
            Scripts.chordPartReturn, keys: [keys.results, keys.added, keys.size, keys.counted, keys.group, keys.claim],
            arguments: [part.taskId, encoded.serialized(.python), "1", score, timings.chordExpires,
                        timings.chordExpires, timings.claimExpires, token])
        let items = reply.array ?? []
        guard items.count == 4, let ready = items[0].integer else {
            throw RedisError(.protocolError, "chord part return replied \(reply)")
        }
        if ready == -1 { return ChordPartReturn(alreadyDone: true, ready: 0, total: nil, claimed: false) }
        // Counts read from Redis: held to Int32 so the sum cannot overflow.
        let clamp = { (value: Int64) in Int(min(max(value, 0), Int64(Int32.max))) }
        let total = items[2].integer.map { clamp($0) + clamp(items[1].integer ?? 0) }
        return ChordPartReturn(alreadyDone: false, ready: clamp(ready), total: total, claimed: items[3].integer == 1)
    }

    /// Every recorded part, in `group_index` order.
    func chordParts(groupId: String) async throws -> [ChordPart] {
        let reply = try await redis.send("ZRANGE", ChordKeys(groupId: groupId).results, 0, -1)
        return try (reply.array ?? []).map { item in
            guard let bytes = item.bytes, let json = try? JSON.parse(bytes), let fields = json.array, fields.count == 4,
                  let taskId = fields[1].string, let state = fields[2].string else {
                throw RedisError(.protocolError, "chord \(groupId) holds a part that is not [1, tid, state, result]")
            }
            return ChordPart(taskId: taskId, state: TaskState(rawValue: state), result: fields[3])
        }
    }

    /// Extends (or takes back) the dispatch claim before publishing the body. Returns false
    /// when another worker owns it now.
    func extendChordClaim(groupId: String, token: String) async throws -> Bool {
        let keys = ChordKeys(groupId: groupId)
        let reply = try await redis.evaluate(Scripts.chordClaimExtend, keys: [keys.claim, keys.size],
                                             arguments: [token, chordTimings.publishClaimExpires])
        return reply.integer == 1
    }

    /// Removes the chord's data and leaves the `done` marker, when `token` still owns the claim.
    @discardableResult
    func cleanUpChord(groupId: String, token: String) async throws -> Bool {
        let keys = ChordKeys(groupId: groupId)
        let reply = try await redis.evaluate(Scripts.chordCleanup, keys: [keys.claim, keys.results, keys.added, keys.size, keys.counted],
                                             arguments: [token, chordTimings.doneExpires])
        return reply.integer == 1
    }

    /// Drops the chord size after a failed chord, so a late copy of a header task does not
    /// fail the body again (the recorded parts stay, as in Celery).
    func dropChordSize(groupId: String) async throws {
        _ = try await redis.send("DEL", ChordKeys(groupId: groupId).size)
    }
}
