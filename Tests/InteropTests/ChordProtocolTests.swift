@testable import Conveyor
import Foundation
import Redis
import Testing
import TestSupport

/// The chord key protocol (`Scripts+Chords.swift`) run twice, step by step: by Celery 5.7's own
/// chord scripts, called from Python as its Redis backend calls them, on one group, and by
/// Conveyor's on another. After every step both chords' keys must hold the same: types,
/// members, scores, values and which lifetime they expire in, and every reply must agree.
@Suite("Chord key protocol: Conveyor's scripts against Celery's")
struct ChordProtocolTests {
    /// Every operation, and every branch of each: counting once per `<task id>:<score>`, parts
    /// added at runtime, the part without an index, completing with and without the claim,
    /// renewing, taking over a lost claim, finishing with a stale and a current token, a late
    /// copy after the `done` marker, a reused group id, and a failed chord whose size is gone.
    static let steps: [JSON] = [
        ["op": "save_group"],
        ["op": "start", "size": 3],
        ["op": "add"],
        ["op": "record", "task": "part-0", "index": 0, "result": 10, "token": "t-a"],
        ["op": "record", "task": "part-0", "index": 0, "result": 11, "token": "t-b"],
        ["op": "record", "task": "part-x", "index": nil, "result": "h\u{e9}llo \u{2713}", "token": "t-c"],
        ["op": "record", "task": "part-1", "index": 1, "result": ["nested": [1, 2]], "token": "t-d"],
        ["op": "record", "task": "part-2", "index": 2, "result": 12, "token": "t-win"],
        ["op": "record", "task": "part-2", "index": 2, "result": 12, "token": "t-copy"],
        ["op": "hold", "token": "t-copy"],
        ["op": "hold", "token": "t-win"],
        ["op": "lose_claim"],
        ["op": "hold", "token": "t-heir"],
        ["op": "finish", "token": "t-win"],
        ["op": "finish", "token": "t-heir"],
        ["op": "record", "task": "part-1", "index": 1, "result": 13, "token": "t-late"],
        ["op": "hold", "token": "t-late"],
        ["op": "start", "size": 1],
        ["op": "record", "task": "again", "index": 0, "result": 1, "token": "t-rerun"],
        ["op": "fail"],
        ["op": "record", "task": "again", "index": 0, "result": 2, "token": "t-after"],
        ["op": "lose_claim"],
        ["op": "hold", "token": "t-after"],
    ]

    @Test("every step of the protocol leaves the same keys and replies under Conveyor's scripts as under Celery's")
    func sameEffectsAsCelery() async throws {
        try TestEnvironment.requirePython()
        let client = try testClient(queue: TestEnvironment.uniqueQueue("chord-protocol"))
        let store = client.results
        let timings = store.chordTimings
        let swiftGroup = "chord-protocol-swift-" + TaskID.make()
        let celeryGroup = "chord-protocol-celery-" + TaskID.make()
        let lifetimes = [timings.claimExpires, timings.publishClaimExpires, timings.doneExpires, timings.chordExpires].sorted()
        let plan: JSON = ["group": .string(celeryGroup), "steps": .array(Self.steps),
                          "lifetimes": ["claim": .int(Int64(timings.claimExpires)), "publish": .int(Int64(timings.publishClaimExpires)),
                                        "done": .int(Int64(timings.doneExpires))]]
        let celeryRows = try #require(try await runPython("chord_protocol.py", [plan.text(.compact)]).array)
        try #require(celeryRows.count == Self.steps.count)

        for (index, step) in Self.steps.enumerated() {
            let reply = try await run(step, group: swiftGroup, store: store)
            let row: JSON = ["reply": reply, "keys": try await snapshot(group: swiftGroup, redis: store.redis, lifetimes: lifetimes)]
            let same = row == celeryRows[index]
            #expect(same, "step \(index) \(step.text(.compact))\nConveyor: \(row.text(.compact))\nCelery:   \(celeryRows[index].text(.compact))")
        }
        // The steps went where they were meant to (the same on both sides, checked above).
        let verdicts = celeryRows.compactMap { $0["reply"]?["verdict"]?.string }
        #expect(verdicts == ["counting", "counting", "counting", "counting", "claimed", "held", "late", "claimed", "counting"])
        let holds = zip(Self.steps, celeryRows).filter { $0.0["op"] == "hold" || $0.0["op"] == "finish" }.map { $0.1["reply"] ?? .null }
        #expect(holds == [false, true, true, false, true, false, false])

        for group in [swiftGroup, celeryGroup] {
            let keys = ChordKeys(groupId: group)
            _ = try await store.redis.send("DEL", keys.group, keys.size, keys.added, keys.results, keys.counted, keys.claim)
        }
        await client.close()
    }

    /// One step with Conveyor's store (the producer's `add_to_chord` is Celery's alone: an INCR).
    private func run(_ step: JSON, group: String, store: ResultStore) async throws -> JSON {
        let keys = ChordKeys(groupId: group)
        let token = step["token"]?.string ?? ""
        switch step["op"]?.string {
        case "start":
            try await store.setChordSize(groupId: group, size: Int(try #require(step["size"]?.int)))
        case "add":
            _ = try await store.redis.send("INCR", keys.added)
        case "save_group":
            _ = try await store.redis.send("SET", keys.group, #"{"result": "saved"}"#)
        case "record":
            let part = ChordPart(taskId: try #require(step["task"]?.string), state: .success, result: step["result"] ?? .null)
            let counted = try await store.returnChordPart(groupId: group, groupIndex: step["index"]?.int.map { Int($0) },
                                                          part: part, token: token)
            if counted.verdict == .late { return ["verdict": "late"] }
            return ["verdict": .string(counted.verdict.rawValue), "ready": .int(Int64(counted.ready)),
                    "total": counted.total.map { .int(Int64($0)) } ?? .null]
        case "hold":
            return .bool(try await store.extendChordClaim(groupId: group, token: token))
        case "finish":
            return .bool(try await store.cleanUpChord(groupId: group, token: token))
        case "lose_claim":
            _ = try await store.redis.send("DEL", keys.claim)
        case "fail":
            try await store.dropChordSize(groupId: group)
        default:
            Issue.record("unknown step \(step.text(.compact))")
        }
        return .null
    }

    /// The chord's keys as `chord_protocol.py` describes Celery's: type, value (sets sorted,
    /// sorted sets as `[member, score]`) and the smallest lifetime in play its TTL fits under
    /// (-1: no expiry, 0: no key), so the seconds a loaded machine takes between steps do not count.
    private func snapshot(group: String, redis: RedisConnection, lifetimes: [Int]) async throws -> JSON {
        let keys = ChordKeys(groupId: group)
        let named = [("G", keys.group), ("G.s", keys.size), ("G.t", keys.added), ("G.j", keys.results), ("G.d", keys.counted),
                     ("G.c", keys.claim)]
        var members: [(key: String, value: JSON)] = []
        for (name, key) in named {
            let kind = try await redis.send("TYPE", key).string ?? "?"
            var value = JSON.null
            switch kind {
            case "string":
                value = .string(try await redis.send("GET", key).string ?? "")
            case "set":
                let items = try await redis.send("SMEMBERS", key).array ?? []
                value = .array(items.compactMap(\.string).sorted().map(JSON.string))
            case "zset":
                let flat = (try await redis.send("ZRANGE", key, 0, -1, "WITHSCORES").array ?? []).compactMap(\.string)
                value = .array(stride(from: 0, to: flat.count - 1, by: 2).map { [.string(flat[$0]), .string(flat[$0 + 1])] })
            default:
                break
            }
            let ttl = try await redis.send("PTTL", key).integer ?? -2
            let expires: Int64
            if ttl < 0 {
                expires = ttl == -2 ? 0 : -1
            } else {
                let seconds = Int((ttl + 999) / 1000)
                expires = Int64(lifetimes.first { $0 >= seconds } ?? seconds)
            }
            members.append((key: name, value: ["type": .string(kind), "value": value, "expires": .int(expires)]))
        }
        return .object(JSONObject(members))
    }
}
