@testable import Conveyor
import Foundation
import Testing
import TestSupport

/// `KeyValueStore.compareAndSet(_:expected:_:fencedBy:)`: a compare-and-set only the newest
/// holder of a lock can do (what `conveyor beat` advances its records with).
@Suite("KeyValueStore: compare-and-set fenced by a lock")
struct FencedCompareAndSetTests {
    @Test("the newest holder's writes follow compare-and-set; a holder whose lock was taken over is refused, even for a matching value")
    func fenced() async throws {
        try TestEnvironment.requireServices()
        let client = try testClient(queue: TestEnvironment.uniqueQueue("kv"))
        let store = client.keyValues
        let key = "test:\(UUID().uuidString)", name = uniqueLockName("fenced-cas")
        // Long enough that no renewal of `first` runs (and finds the lock taken over) before the
        // test checks that its holder still believes in it, however slow a loaded machine is.
        let first = try #require(try await client.locks.tryAcquire(name, lease: .seconds(600)))
        #expect(try await store.compareAndSet(key, expected: nil, Array("1".utf8), fencedBy: first))
        #expect(try await store.compareAndSet(key, expected: nil, Array("2".utf8), fencedBy: first) == false)
        #expect(try await store.compareAndSet(key, expected: Array("1".utf8), Array("2".utf8), fencedBy: first))
        // The lease ends in Redis while its holder still believes in it; another holder takes the lock.
        _ = try await client.redis.send("DEL", Keys.lock(name))
        let second = try #require(try await client.locks.tryAcquire(name, lease: .seconds(30)))
        #expect(first.isHeld)
        let refused = try await #require(throws: LockError.self) {
            try await store.compareAndSet(key, expected: Array("2".utf8), Array("3".utf8), fencedBy: first)
        }
        #expect(refused.code == .staleToken)
        #expect(try await store.get(key) == Array("2".utf8))
        #expect(try await store.compareAndSet(key, expected: Array("2".utf8), Array("3".utf8), fencedBy: second, ttl: .seconds(60)))
        #expect(try await store.get(key) == Array("3".utf8))
        #expect(try await store.timeToLive(key) != nil)
        await #expect(throws: ConveyorError.self) {
            try await store.compareAndSet("", expected: nil, [], fencedBy: second)
        }
        try await first.release()
        try await second.release()
        _ = try await store.delete(key)
        await client.close()
    }
}
