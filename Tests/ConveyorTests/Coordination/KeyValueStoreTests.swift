@testable import Conveyor
import Foundation
import Testing
import TestSupport

/// Job code's keys and values in Redis: get and set with a time to live, set-if-absent,
/// compare-and-set in one step, delete; keys kept apart from Conveyor's own.
@Suite("KeyValueStore")
struct KeyValueStoreTests {
    private func store() throws -> (ConveyorClient, KeyValueStore, String) {
        try TestEnvironment.requireServices()
        let client = try testClient(queue: TestEnvironment.uniqueQueue("kv"))
        return (client, client.keyValues, "test:\(UUID().uuidString)")
    }

    @Test("set, get, timeToLive and delete; bytes are kept exactly and live under conveyor:kv:")
    func setGetDelete() async throws {
        let (client, store, key) = try store()
        #expect(try await store.get(key) == nil)
        let bytes: [UInt8] = [0, 255, 13, 10, 0x80, 65]
        try await store.set(key, bytes, ttl: .seconds(60))
        #expect(try await store.get(key) == bytes)
        let left = try #require(try await store.timeToLive(key))
        #expect(left > 0 && left <= 60)
        #expect(try await client.redis.send("EXISTS", "conveyor:kv:" + key).integer == 1)
        try await store.set(key, json: ["state": "sent", "n": 3])
        #expect(try await store.json(key) == ["state": "sent", "n": 3])
        #expect(try await store.timeToLive(key) == nil)
        #expect(try await store.delete(key))
        #expect(try await store.delete(key) == false)
        #expect(try await store.get(key) == nil)
        await client.close()
    }

    @Test("setIfAbsent stores only the first value")
    func setIfAbsent() async throws {
        let (client, store, key) = try store()
        #expect(try await store.setIfAbsent(key, Array("one".utf8), ttl: .seconds(60)))
        #expect(try await store.setIfAbsent(key, Array("two".utf8), ttl: .seconds(60)) == false)
        #expect(try await store.get(key) == Array("one".utf8))
        _ = try await store.delete(key)
        await client.close()
    }

    @Test("compareAndSet replaces only the expected value; of many racing writers exactly one wins")
    func compareAndSet() async throws {
        let (client, store, key) = try store()
        #expect(try await store.compareAndSet(key, expected: nil, Array("sending".utf8), ttl: .seconds(60)))
        #expect(try await store.compareAndSet(key, expected: nil, Array("other".utf8)) == false)
        #expect(try await store.compareAndSet(key, expected: Array("nope".utf8), Array("sent".utf8)) == false)
        #expect(try await store.compareAndSet(key, expected: Array("sending".utf8), Array("sent".utf8), ttl: .seconds(60)))
        #expect(try await store.get(key) == Array("sent".utf8))
        let wins = try await withThrowingTaskGroup(of: Bool.self) { group in
            for writer in 0..<20 {
                group.addTask { try await store.compareAndSet(key, expected: Array("sent".utf8), Array("writer \(writer)".utf8)) }
            }
            return try await group.reduce(0) { $0 + ($1 ? 1 : 0) }
        }
        #expect(wins == 1)
        _ = try await store.delete(key)
        await client.close()
    }

    @Test("bad keys, values and times to live are refused before Redis is asked")
    func badInput() async throws {
        let (client, store, key) = try store()
        await #expect(throws: ConveyorError.self) { try await store.get("") }
        await #expect(throws: ConveyorError.self) { try await store.get(String(repeating: "k", count: 513)) }
        await #expect(throws: ConveyorError.self) { try await store.set(key, [1], ttl: .zero) }
        await #expect(throws: ConveyorError.self) { try await store.set(key, [1], ttl: .seconds(-5)) }
        await #expect(throws: ConveyorError.self) { try await store.setIfAbsent(key, [1], ttl: .seconds(31 * 86_400)) }
        await #expect(throws: ConveyorError.self) { try await store.compareAndSet(key, expected: nil, [1], ttl: .milliseconds(0)) }
        try await store.set(key, Array("not json".utf8))
        await #expect(throws: ConveyorError.self) { try await store.json(key) }
        _ = try await store.delete(key)
        await client.close()
    }
}
