import Conveyor
import Foundation
@testable import Repositories
import Synchronization
import Testing
import TestSupport

/// The cache is keyed by resolved commits: a repeat is served from it, a moved branch is not,
/// and a cache that fails never fails the diff.
@Suite("diffs.compute cache")
struct DiffCacheTests {
    /// A MemoryDiffCache that counts what it was asked, and can be told to fail.
    final class CountingCache: DiffCache {
        let inner = MemoryDiffCache()
        let counts = Mutex((hits: 0, misses: 0, stores: 0))
        let failing: Bool

        init(failing: Bool = false) { self.failing = failing }

        func value(for key: String) async throws -> [UInt8]? {
            if failing { throw RepositoryError(.gitFailed, "cache down") }
            let value = try await inner.value(for: key)
            counts.withLock { value == nil ? ($0.misses += 1) : ($0.hits += 1) }
            return value
        }

        func store(_ value: [UInt8], for key: String, ttl: Int) async throws {
            if failing { throw RepositoryError(.gitFailed, "cache down") }
            counts.withLock { $0.stores += 1 }
            try await inner.store(value, for: key, ttl: ttl)
        }
    }

    @Test("a repeat comes from the cache; after the branch moves, the new head is computed and cached")
    func repeatsAndMovedBranches() async throws {
        let root = try FixtureRoot()
        let repo = try await root.makeRepository("cached")
        try repo.write("a.txt", "1\n")
        let first = try await repo.commit("1")
        try repo.write("a.txt", "1\n2\n")
        try await repo.commit("2")
        let pool = try root.pool()
        defer { pool.close() }
        let cache = CountingCache()
        let service = DiffService(repositories: pool, cache: cache)
        let computed = try await service.compute(repository: "cached", base: first, head: "main")
        let repeated = try await service.compute(repository: "cached", base: first, head: "main")
        #expect(repeated == computed)
        #expect(cache.counts.withLock { $0 } == (hits: 1, misses: 1, stores: 1))

        try repo.write("a.txt", "1\n2\n3\n")
        let third = try await repo.commit("3")
        let moved = try await service.compute(repository: "cached", base: first, head: "main")
        #expect(moved["head"]?.string == third)
        #expect(moved["stats"]?["additions"] == 2)
        #expect(cache.counts.withLock { $0 } == (hits: 1, misses: 2, stores: 2))
    }

    @Test("a failing cache is skipped: the diff is computed all the same")
    func failingCache() async throws {
        let root = try FixtureRoot()
        let repo = try await root.makeRepository("uncached")
        try repo.write("a.txt", "1\n")
        let first = try await repo.commit("1")
        try repo.write("a.txt", "2\n")
        let second = try await repo.commit("2")
        let pool = try root.pool()
        defer { pool.close() }
        let result = try await DiffService(repositories: pool, cache: CountingCache(failing: true))
            .compute(repository: "uncached", base: first, head: second)
        #expect(result.file("a.txt")?["hunks"]?[0]?["lines"] == ["-1", "+2"])
    }

    @Test("requests for one diff that overlap share one computation")
    func singleFlight() async throws {
        let flight = LocalDiffFlight()
        let runs = RunCount()
        let (gate, open) = AsyncStream<Void>.makeStream()
        // The first run holds until the gate opens; a second caller for the same key joins it.
        async let first = flight.run(key: "k") {
            runs.value.withLock { $0 += 1 }
            for await _ in gate { break }
            return [1]
        }
        try await eventually(timeout: hangGuard, "the first run started") { runs.value.withLock { $0 } == 1 }
        async let second = flight.run(key: "k") {
            runs.value.withLock { $0 += 1 }
            return [2]
        }
        try await eventually(timeout: hangGuard, "the second caller joined") { flight.joined.load(ordering: .relaxed) == 1 }
        open.yield()
        open.finish()
        #expect(try await first == [1])
        #expect(try await second == [1])
        #expect(runs.value.withLock { $0 } == 1)
    }
}

extension DiffCacheTests {
    /// A shared cache whose first `store` waits for a gate: the first computation holds its
    /// fleet lock until the test lets the store finish.
    final class GatedCache: DiffCache {
        let inner = MemoryDiffCache()
        let storing: AsyncStream<Void>
        private let storingContinuation: AsyncStream<Void>.Continuation
        private let gate: AsyncStream<Void>
        let open: AsyncStream<Void>.Continuation

        init() {
            (storing, storingContinuation) = AsyncStream<Void>.makeStream()
            (gate, open) = AsyncStream<Void>.makeStream()
        }

        func value(for key: String) async throws -> [UInt8]? { try await inner.value(for: key) }

        func store(_ value: [UInt8], for key: String, ttl: Int) async throws {
            storingContinuation.yield()
            for await _ in gate { break }
            try await inner.store(value, for: key, ttl: ttl)
        }
    }

    @Test("two workers asking for one diff at once compute it once: the second waits for the first's lock and reads the cache")
    func fleetSingleFlight() async throws {
        try TestEnvironment.requireServices()
        let root = try FixtureRoot()
        let repo = try await root.makeRepository("fleet")
        try repo.write("a.txt", lines(50))
        let base = try await repo.commit("1")
        try repo.write("a.txt", lines(60))
        let head = try await repo.commit("2")
        // Two workers: their own git processes and in-process flights, one cache and one Redis.
        let (firstPool, secondPool) = (try root.pool(), try root.pool())
        defer { firstPool.close(); secondPool.close() }
        let cache = GatedCache()
        let client = try testClient(queue: TestEnvironment.uniqueQueue("diff-fleet"))
        let first = DiffService(repositories: firstPool, cache: cache)
        let (waiting, waited) = AsyncStream<Void>.makeStream()
        let second = {
            var service = DiffService(repositories: secondPool, cache: cache)
            service.onWaitingForFleet = { waited.yield() }
            return service
        }()

        async let firstResult = first.compute(repository: "fleet", base: base, head: head, locks: client.locks)
        // The first computed its diff and holds the lock while its store waits at the gate.
        for await _ in cache.storing { break }
        async let secondResult = second.compute(repository: "fleet", base: base, head: head, locks: client.locks)
        for await _ in waiting { break }
        cache.open.yield()
        cache.open.finish()
        let (one, two) = try await (firstResult, secondResult)
        #expect(one == two)
        #expect(one["stats"]?["additions"] == 10)
        #expect(first.computed.value == 1)
        #expect(second.computed.value == 0)
        await client.close()
    }
}

/// How many times a flight's body ran.
final class RunCount: Sendable {
    let value = Mutex(0)
}
