@testable import Conveyor
import Foundation
import Testing
import TestSupport

/// GCRA in Redis. Rates are slow (1/h) or the decisions are made in one script call, so the
/// counts and values asserted do not depend on how fast the machine is.
@Suite("Rate limiter: GCRA in Redis, on Redis' clock")
struct RateLimiterTests {
    private func limiter() throws -> (ConveyorClient, RateLimiter) {
        try TestEnvironment.requireServices()
        let client = try testClient(queue: TestEnvironment.uniqueQueue("limiter"))
        return (client, RateLimiter(client: client))
    }

    private func uniqueKey() -> String { "test:\(TestEnvironment.run):\(UUID().uuidString)" }

    @Test("a burst of 5 at 1/h: exactly 5 of 8 go, remaining counts down, the rest retry in about an hour")
    func burstThenDenied() async throws {
        let (client, limiter) = try limiter()
        let key = uniqueKey()
        var decisions: [RateLimiter.Decision] = []
        for _ in 0..<8 { decisions.append(try await limiter.allow(key: key, rate: "1/h", burst: 5)) }
        #expect(decisions.filter(\.allowed).count == 5)
        #expect(decisions.prefix(5).map(\.remaining) == [4, 3, 2, 1, 0])
        for denied in decisions.suffix(3) {
            #expect(!denied.allowed)
            // An hour less what passed since the first call: far more slack than any machine needs.
            #expect(denied.retryAfter > 3000 && denied.retryAfter <= 3600, "\(denied.retryAfter)")
        }
        await client.close()
    }

    @Test("keys are limited apart: per key, and per argument value of a task")
    func keysApart() async throws {
        let (client, limiter) = try limiter()
        let first = uniqueKey(), second = uniqueKey()
        #expect(try await limiter.allow(key: first, rate: "1/h").allowed)
        #expect(try await limiter.allow(key: second, rate: "1/h").allowed)
        #expect(try await !limiter.allow(key: first, rate: "1/h").allowed)
        let task = "test.limiter.\(UUID().uuidString)"
        let interval = try RateLimit("1/h").intervalMicroseconds
        let requests = ["\"a\"", "\"b\"", "\"a\"", "7", "\"7\""].map {
            RateLimiter.Request(key: Keys.rateLimit(task: task, argument: $0), intervalMicroseconds: interval, burst: 1, queue: false)
        }
        let (now, decisions) = try await limiter.acquire(requests)
        #expect(decisions.map(\.allowed) == [true, true, false, true, true])
        #expect(now > 1_700_000_000_000_000)
        await client.close()
    }

    @Test("one batch, one clock reading: denied requests get places in line, two per slot, from the shortest wait")
    func placesInLine() async throws {
        let (client, limiter) = try limiter()
        let key = Keys.rateLimit(custom: uniqueKey())
        // 10/s: 100 ms per slot, so the shortest wait (1 s) decides the first place.
        let request = RateLimiter.Request(key: key, intervalMicroseconds: 100_000, burst: 2, queue: true)
        let (_, decisions) = try await limiter.acquire(Array(repeating: request, count: 6))
        #expect(decisions.map(\.allowed) == [true, true, false, false, false, false])
        #expect(decisions.suffix(4).map(\.wait) == [1.0, 1.05, 1.1, 1.15])
        // Capped: nobody is told to wait longer than the longest wait, though at 1/h the next
        // slot is an hour away.
        let hourly = RateLimiter.Request(key: Keys.rateLimit(custom: uniqueKey()), intervalMicroseconds: 3_600_000_000, burst: 1, queue: true)
        let (_, capped) = try await limiter.acquire([hourly, hourly, hourly], longestWait: 1)
        #expect(capped.map(\.allowed) == [true, false, false])
        #expect(capped.map(\.wait) == [0, 1, 1])
        #expect(capped[1].retryAfter == 3600)
        await client.close()
    }

    @Test("within the hold window each denied request gets a slot of its own, one per interval; beyond it, the line")
    func heldSlots() async throws {
        let (client, limiter) = try limiter()
        let request = RateLimiter.Request(key: Keys.rateLimit(custom: uniqueKey()), intervalMicroseconds: 100_000, burst: 2, queue: true)
        let (_, decisions) = try await limiter.acquire(Array(repeating: request, count: 13), holdWindow: 1)
        #expect(decisions.map(\.allowed) == Array(repeating: true, count: 2) + Array(repeating: false, count: 11))
        #expect(decisions.map(\.held) == Array(repeating: false, count: 2) + Array(repeating: true, count: 9) + [false, false])
        #expect(decisions.dropFirst(2).prefix(9).map { ($0.wait * 10).rounded() } == [1, 2, 3, 4, 5, 6, 7, 8, 9])
        #expect(decisions.suffix(2).map(\.wait) == [1.0, 1.05])
        await client.close()
    }

    @Test("a changed rate starts the line afresh, even when the first request at the new rate is allowed")
    func changedRateResetsLine() async throws {
        let (client, limiter) = try limiter()
        let key = Keys.rateLimit(custom: uniqueKey())
        let hourly = RateLimiter.Request(key: key, intervalMicroseconds: 3_600_000_000, burst: 1, queue: true)
        // One allowed, then a line that reaches 3 hours out.
        let (_, before) = try await limiter.acquire([hourly, hourly, hourly, hourly], longestWait: 86_400)
        #expect(before.map(\.wait) == [0, 3600, 5400, 7200])
        // Raised to 1/s burst 2: the hour's one request is one request of debt at the new rate, so
        // one more goes now; those denied behind it are not put behind the old line.
        let fast = RateLimiter.Request(key: key, intervalMicroseconds: 1_000_000, burst: 2, queue: true)
        let (_, after) = try await limiter.acquire([fast, fast, fast])
        #expect(after.map(\.allowed) == [true, false, false])
        #expect(after[1].wait >= 1 && after[1].wait <= 2, "\(after[1].wait)")
        #expect(after[2].wait == after[1].wait + 0.5)
        await client.close()
    }

    @Test("a huge key is refused or stored short, and bad rates are refused before Redis is asked")
    func badInput() async throws {
        let (client, limiter) = try limiter()
        for key in ["", String(repeating: "k", count: 513)] {
            await #expect(throws: ConveyorError.self) { try await limiter.allow(key: key, rate: "1/s") }
        }
        let longest = uniqueKey()
        #expect(try await limiter.allow(key: longest + String(repeating: "k", count: 512 - longest.utf8.count), rate: "1/h").allowed)
        for rate in ["10/x", "0/s", "-1/m", "99999999999999999999/s"] {
            await #expect(throws: ConveyorError.self) { try await limiter.allow(key: uniqueKey(), rate: rate) }
        }
        await #expect(throws: ConveyorError.self) { try await limiter.allow(key: uniqueKey(), rate: "1/s", burst: 0) }
        await client.close()
    }

    @Test("Redis down: the limiter throws backendUnavailable instead of allowing")
    func redisDown() async throws {
        var configuration = TestEnvironment.configuration(queue: TestEnvironment.uniqueQueue("limiter-down"))
        configuration.resultURL = "redis://127.0.0.1:1/0"
        configuration.connectTimeout = 1
        let client = try ConveyorClient(configuration: configuration)
        let limiter = RateLimiter(client: client, timeout: 1)
        do {
            _ = try await limiter.allow(key: uniqueKey(), rate: "1/s")
            Issue.record("allowed without Redis")
        } catch let error as ConveyorError {
            #expect(error.code == .backendUnavailable)
        }
        await client.close()
    }

    @Test("run-time limits: set, listed, replaced, cleared")
    func settings() async throws {
        let (client, _) = try limiter()
        let settings = RateLimitSettings(client: client)
        let task = "test.settings.\(UUID().uuidString)"
        try await settings.set(try RateLimit("5/m", burst: 2, perArgument: "to"), for: task)
        #expect(try await settings.list().first { $0.task == task }?.limit == (try RateLimit("5/m", burst: 2, perArgument: "to")))
        try await settings.set(try RateLimit("7/s"), for: task)
        #expect(try await settings.list().first { $0.task == task }?.limit == (try RateLimit("7/s")))
        #expect(try await settings.clear(task: task))
        #expect(try await !settings.clear(task: task))
        #expect(try await settings.list().contains { $0.task == task } == false)
        await #expect(throws: ConveyorError.self) { try await settings.set(try RateLimit("1/s"), for: "") }
        await client.close()
    }
}
