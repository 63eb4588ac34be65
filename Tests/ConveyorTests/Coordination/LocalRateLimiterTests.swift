@testable import Conveyor
import Testing

/// The per-worker limiter takes `now`: time is stepped, never slept.
@Suite("Local rate limiter: GCRA in one process (Celery's per-worker meaning)")
struct LocalRateLimiterTests {
    @Test("a burst goes at once, then one per interval")
    func burstThenSpacing() {
        let limiter = LocalRateLimiter()
        let allowed = (0..<10).filter { _ in limiter.acquire(key: "k", interval: 0.1, burst: 4, now: 100).allowed }.count
        #expect(allowed == 4)
        #expect(!limiter.acquire(key: "k", interval: 0.1, burst: 4, now: 100.05).allowed)
        #expect(limiter.acquire(key: "k", interval: 0.1, burst: 4, now: 100.1).allowed)
        #expect(!limiter.acquire(key: "k", interval: 0.1, burst: 4, now: 100.1).allowed)
        #expect(limiter.acquire(key: "k", interval: 0.1, burst: 4, now: 100.2).allowed)
    }

    @Test("over 10 s at 8/s with burst 4, exactly 4 + 80 of many requests go")
    func countOverTime() {
        // Binary fractions, so the count cannot hinge on rounding.
        let limiter = LocalRateLimiter()
        var allowed = 0
        for step in 0...640 {
            let now = Double(step) / 64
            for _ in 0..<3 where limiter.acquire(key: "k", interval: 0.125, burst: 4, now: now).allowed { allowed += 1 }
        }
        #expect(allowed == 84)
    }

    @Test("denied requests get places in line, two per slot, at least the shortest wait, at most the longest")
    func placesInLine() {
        let limiter = LocalRateLimiter()
        #expect(limiter.acquire(key: "k", interval: 1, burst: 1, now: 0).allowed)
        let waits = (0..<4).map { _ in limiter.acquire(key: "k", interval: 1, burst: 1, now: 0).wait }
        #expect(waits == [1, 1.5, 2, 2.5])
        let capped = (0..<4).map { _ in limiter.acquire(key: "k", interval: 1, burst: 1, now: 0, longestWait: 2).wait }
        #expect(capped == [2, 2, 2, 2])
        #expect(limiter.acquire(key: "k", interval: 1, burst: 1, now: 0).retryAfter == 1)
    }

    @Test("keys are limited apart, and a changed interval starts the line afresh")
    func keysApart() {
        let limiter = LocalRateLimiter()
        #expect(limiter.acquire(key: "a", interval: 10, burst: 1, now: 0).allowed)
        #expect(limiter.acquire(key: "b", interval: 10, burst: 1, now: 0).allowed)
        #expect(!limiter.acquire(key: "a", interval: 10, burst: 1, now: 0).allowed)
        _ = limiter.acquire(key: "a", interval: 10, burst: 1, now: 0)
        #expect(limiter.acquire(key: "a", interval: 10, burst: 1, now: 0).wait > 10)
        // At 1 s the debt of one 10 s request is one 1 s request: the line starts afresh behind it.
        #expect(limiter.acquire(key: "a", interval: 1, burst: 1, now: 0).wait == 1)
    }

    @Test("a raised rate applies at once: the old debt is converted, not kept in seconds")
    func raisedRate() {
        let limiter = LocalRateLimiter()
        #expect(limiter.acquire(key: "k", interval: 3600, burst: 1, now: 0).allowed)
        #expect(!limiter.acquire(key: "k", interval: 3600, burst: 1, now: 0).allowed)
        let allowed = (0..<10).filter { _ in limiter.acquire(key: "k", interval: 0.25, burst: 4, now: 0).allowed }.count
        #expect(allowed == 3)
        // Lowered again: at most a full burst of debt, not hours.
        #expect(limiter.acquire(key: "k", interval: 3600, burst: 1, now: 0).retryAfter == 3600)
    }

    @Test("a flood of distinct keys stays bounded and every key is still limited")
    func boundedKeys() {
        let limiter = LocalRateLimiter()
        for index in 0..<(LocalRateLimiter.maxKeys + 500) {
            #expect(limiter.acquire(key: "k\(index)", interval: 1000, burst: 1, now: 0).allowed)
        }
        #expect(!limiter.acquire(key: "k\(LocalRateLimiter.maxKeys + 499)", interval: 1000, burst: 1, now: 0).allowed)
    }
}
