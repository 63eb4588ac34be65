import Foundation
import Redis

/// A fleet-wide rate limiter: GCRA in one Lua script on Redis' own clock, shared by every
/// process that uses the same Redis. Workers use it for `RateLimit`s; any code may use it for
/// its own keys.
///
/// ```swift
/// let limiter = RateLimiter(client: client)
/// let decision = try await limiter.allow(key: "smtp:example.com", rate: "100/m", burst: 10)
/// if !decision.allowed { try await Task.sleep(for: .seconds(decision.retryAfter)) }
/// ```
public final class RateLimiter: Sendable {
    let redis: RedisConnection
    /// Seconds a call waits for Redis before throwing `backendUnavailable`.
    let timeout: Double

    /// What the limiter decided for one request.
    public struct Decision: Sendable, Equatable {
        /// Whether the request may go ahead now (and was counted).
        public var allowed: Bool
        /// Seconds until a request would be allowed if nothing else came first; 0 when allowed.
        public var retryAfter: Double
        /// Requests that could still go ahead at once after this one.
        public var remaining: Int
        /// For a denied request that took a place in line: seconds until its turn (at least the
        /// limiter's shortest wait, and behind every request that took a place before it).
        var wait: Double
        /// Whether `wait` is a slot of its own within the hold window, to be waited for in memory.
        var held = false
    }

    /// One request in a batch.
    struct Request: Sendable {
        let key: String
        let intervalMicroseconds: Int
        let burst: Int
        /// Whether a denied request takes a place in line (`Decision.wait`).
        let queue: Bool
    }

    /// - Parameters:
    ///   - client: whose Redis connection the limiter shares.
    ///   - timeout: seconds each call may wait for Redis, finite and above 0 (default 2).
    public convenience init(client: ConveyorClient, timeout: Double = 2) {
        self.init(redis: client.redis, timeout: timeout)
    }

    /// A limiter on a Redis connection of your own (say, one per thread of a load test).
    /// - Parameters:
    ///   - redis: the connection; its owner starts and closes it.
    ///   - timeout: as for `init(client:timeout:)`.
    public init(redis: RedisConnection, timeout: Double = 2) {
        self.redis = redis
        self.timeout = timeout.isFinite && timeout > 0 ? min(timeout, 3600) : 2
    }

    /// Counts one request against `key`'s limit, if the limit allows it now.
    /// - Parameters:
    ///   - key: yours to choose, 1 to 512 bytes (long keys are stored by their hash); keys of
    ///     tasks' limits live apart and cannot be reached from here.
    ///   - rate: Celery's form, `10/s`, `100/m`, `1000/h`.
    ///   - burst: requests allowed at once after a quiet spell, 1...10,000.
    /// - Throws: `ConveyorError.Code.invalidArguments` for a bad key, rate or burst;
    ///   `backendUnavailable` when Redis does not answer.
    public func allow(key: String, rate: String, burst: Int = 1) async throws -> Decision {
        try await allow(key: key, limit: try RateLimit(rate, burst: burst))
    }

    /// Counts one request against `key` under `limit` (its scope and per-argument are not used).
    /// - Throws: as `allow(key:rate:burst:)`.
    public func allow(key: String, limit: RateLimit) async throws -> Decision {
        guard !key.isEmpty, key.utf8.count <= 512 else {
            throw ConveyorError(.invalidArguments, "a rate limiter key must be 1 to 512 bytes, not \(key.utf8.count)")
        }
        let request = Request(key: Keys.rateLimit(custom: key), intervalMicroseconds: limit.intervalMicroseconds, burst: limit.burst,
                              queue: false)
        guard let decision = try await acquire([request]).decisions.first else {
            throw ConveyorError(.backendUnavailable, "rate limiter answered nothing")
        }
        return decision
    }

    /// Redis' clock, seconds since 1970 (what the limiter counts time with).
    /// - Throws: `backendUnavailable` when Redis does not answer.
    public func serverTime() async throws -> Double {
        let reply = try await translated { try await redis.send("TIME", timeout: timeout) }
        guard let parts = reply.array, parts.count == 2, let seconds = parts[0].string.flatMap(Double.init),
              let micros = parts[1].string.flatMap(Double.init) else {
            throw ConveyorError(.backendUnavailable, "Redis TIME answered \(reply)")
        }
        return seconds + micros / 1_000_000
    }

    /// Decides a batch in one round trip. Requests for the same key are decided in order.
    /// - Parameters:
    ///   - shortestWait: seconds, the least `wait` handed out (the delay cascade's resolution).
    ///   - longestWait: seconds, the most `wait` handed out.
    ///   - returnsPerSlot: denied requests told to come back for each free slot (2: the limit
    ///     stays busy while a backlog waits, at the cost of about one extra try per start).
    /// - Returns: Redis' time (µs since 1970) and one decision per request.
    ///   - holdWindow: seconds; a denied request whose turn comes within it gets a slot of its
    ///     own (`Decision.held`), one per interval across every caller; 0: none.
    func acquire(_ requests: [Request], shortestWait: Double = 1, longestWait: Double = 3600,
                 returnsPerSlot: Int = 2, holdWindow: Double = 0) async throws -> (now: Int64, decisions: [Decision]) {
        guard !requests.isEmpty else { return (0, []) }
        var arguments: [any RedisArgument] = [Int(shortestWait * 1_000_000), Int(longestWait * 1_000_000), max(1, returnsPerSlot),
                                              Int(max(0, min(holdWindow, shortestWait)) * 1_000_000)]
        arguments.reserveCapacity(4 + requests.count * 3)
        for request in requests { arguments += [request.intervalMicroseconds, request.burst, request.queue ? "1" : "0"] }
        let reply = try await translated {
            try await redis.evaluate(Scripts.rateLimitAllow, keys: requests.map(\.key), arguments: arguments, timeout: timeout)
        }
        guard let items = reply.array, items.count == requests.count + 1, let now = items[0].integer else {
            throw ConveyorError(.backendUnavailable, "rate limiter answered \(reply) for \(requests.count) requests")
        }
        let decisions = items.dropFirst().map { item -> Decision in
            let parts = item.array?.map { $0.integer ?? 0 } ?? []
            let value = { (index: Int) in index < parts.count ? max(0, parts[index]) : 0 }
            return Decision(allowed: value(0) == 1, retryAfter: Double(value(1)) / 1_000_000,
                            remaining: Int(min(value(2), Int64(Int32.max))), wait: Double(value(3)) / 1_000_000, held: value(4) == 1)
        }
        return (now, decisions)
    }

    private func translated<T>(_ body: () async throws -> T) async throws -> T {
        do {
            return try await body()
        } catch let error as RedisError {
            throw ConveyorError(.backendUnavailable, "rate limiter: Redis unavailable: \(error.message)")
        }
    }
}
