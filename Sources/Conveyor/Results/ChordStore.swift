import Foundation
import Redis

/// A chord's counting keys in Redis, named as Celery 5.7's Redis backend names them
/// (`celery-taskset-meta-<gid>` with `.j`, `.t`, `.s`, `.d`, `.c`) and used by the key protocol
/// written down in `Scripts+Chords.swift`, so header tasks that finish on Swift and Python
/// workers complete the same chord.
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

    /// What the claim holds once the chord finished and its data was removed.
    static let doneMarker = "done"

    /// The counting data that finishing the chord removes: size, added, results, counted.
    var data: [String] { [size, added, results, counted] }
    /// `Scripts.recordChordPart`'s KEYS.
    var recording: [String] { [group] + data + [claim] }
}

/// Where saved groups live (`GroupResult.save()`).
enum GroupKeys {
    static func key(for groupId: String) -> String { "celery-taskset-meta-" + groupId }
}

/// Where recording a part left the chord (`Scripts.recordChordPart`'s verdict).
enum ChordPartVerdict: String, Sendable {
    /// The chord finished earlier and its data is gone: this part was a late copy.
    case late
    /// Counted; parts are still missing, or the chord's size is not (or no longer) known.
    case counting
    /// This part completed the chord, and this recording holds the body's dispatch claim.
    case claimed
    /// The chord is complete but the claim was already taken: by an earlier attempt of this
    /// recording, or by another worker (which may have died since).
    case held
}

/// What recording one header task's part found.
struct ChordPartReturn: Sendable, Equatable {
    /// Where the chord stands after this part.
    var verdict: ChordPartVerdict
    /// Parts recorded so far.
    var ready: Int
    /// The chord size plus parts added at runtime; nil when the size is not (or no longer) known.
    var total: Int?
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

    /// Records the chord size before its last header task is published (the key protocol's
    /// operation 1: the claim of an earlier run of a reused group id goes first).
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
            Scripts.recordChordPart, keys: keys.recording,
            arguments: [encoded.serialized(.python), score, part.taskId + ":" + score, timings.chordExpires,
                        timings.chordExpires, token, timings.claimExpires])
        let items = reply.array ?? []
        guard items.count == 3, let verdict = items[0].string.flatMap(ChordPartVerdict.init(rawValue:)),
              let ready = items[1].integer, let total = items[2].integer else {
            throw RedisError(.protocolError, "chord part recording replied \(reply)")
        }
        // Counts read from Redis: held to Int32, as the sizes a producer can write.
        let clamp = { (value: Int64) in Int(min(max(value, 0), Int64(Int32.max))) }
        return ChordPartReturn(verdict: verdict, ready: clamp(ready), total: total < 0 ? nil : clamp(total))
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
        let reply = try await redis.evaluate(Scripts.holdChordClaim, keys: [keys.claim, keys.size],
                                             arguments: [token, chordTimings.publishClaimExpires])
        return reply.integer == 1
    }

    /// Removes the chord's data and leaves the `done` marker, when `token` still owns the claim.
    @discardableResult
    func cleanUpChord(groupId: String, token: String) async throws -> Bool {
        let keys = ChordKeys(groupId: groupId)
        let reply = try await redis.evaluate(Scripts.finishChord, keys: [keys.claim] + keys.data,
                                             arguments: [token, chordTimings.doneExpires])
        return reply.integer == 1
    }

    /// Drops the chord size after a failed chord, so a late copy of a header task does not
    /// fail the body again (the recorded parts stay, as in Celery).
    func dropChordSize(groupId: String) async throws {
        _ = try await redis.send("DEL", ChordKeys(groupId: groupId).size)
    }
}
