import Foundation
import Redis

/// Plain keys and values in the result store's Redis, for job code: caches, records of work
/// done, anything a task must find again on another worker or after a crash.
///
/// Keys live under `conveyor:kv:` and cannot reach Conveyor's own keys. Values are bytes (JSON
/// helpers included); each may expire after a time to live.
///
/// ```swift
/// let records = context.keyValues
/// if try await records.setIfAbsent("mail:\(id)", json: ["state": "sending"], ttl: .seconds(86_400)) { … }
/// try await records.set("mail:\(id)", json: ["state": "sent"], ttl: .seconds(7 * 86_400))
/// ```
public struct KeyValueStore: Sendable {
    let redis: RedisConnection
    /// Seconds each call may wait for Redis before throwing `backendUnavailable`.
    let timeout: Double

    /// The longest key, in UTF-8 bytes.
    public static let maxKeyBytes = 512
    /// The largest value, in bytes (Redis takes up to 512 MB; a task that stores more should
    /// keep it elsewhere).
    public static let maxValueBytes = 64 << 20

    /// - Parameters:
    ///   - client: whose Redis connection to use.
    ///   - timeout: seconds each call may wait, finite and above 0 (default 5; at most an hour).
    public init(client: ConveyorClient, timeout: Double = 5) {
        redis = client.redis
        self.timeout = timeout.isFinite && timeout > 0 ? min(timeout, 3600) : 5
    }

    /// The value of `key`, or nil when there is none (or it expired).
    /// - Throws: `ConveyorError.Code.invalidArguments` for a bad key; `backendUnavailable`.
    public func get(_ key: String) async throws -> [UInt8]? {
        let reply = try await call(key) { try await redis.send(["GET", $0], timeout: timeout) }
        return reply.isNull ? nil : reply.bytes
    }

    /// Stores `value` under `key`, replacing any value.
    /// - Parameters:
    ///   - ttl: how long it lives, 1 ms to 30 days (or nil: until deleted).
    /// - Throws: `ConveyorError.Code.invalidArguments` for a bad key, value or ttl; `backendUnavailable`.
    public func set(_ key: String, _ value: [UInt8], ttl: Duration? = nil) async throws {
        let expiry = try Self.expiry(ttl)
        try Self.check(value)
        _ = try await call(key) { try await redis.send(["SET", $0, value] + expiry, timeout: timeout) }
    }

    /// Stores `value` under `key` only when `key` has no value.
    /// - Returns: whether it was stored.
    /// - Throws: as `set(_:_:ttl:)`.
    @discardableResult
    public func setIfAbsent(_ key: String, _ value: [UInt8], ttl: Duration? = nil) async throws -> Bool {
        let expiry = try Self.expiry(ttl)
        try Self.check(value)
        let reply = try await call(key) { try await redis.send(["SET", $0, value, "NX"] + expiry, timeout: timeout) }
        return !reply.isNull
    }

    /// Replaces the value of `key` only if it is `expected` now (nil: only if it has none), in one
    /// step on the server, so two writers cannot both win.
    /// - Parameters:
    ///   - ttl: the new value's time to live, 1 ms to 30 days; nil keeps it until deleted.
    /// - Returns: whether it was replaced.
    /// - Throws: as `set(_:_:ttl:)`.
    @discardableResult
    public func compareAndSet(_ key: String, expected: [UInt8]?, _ value: [UInt8], ttl: Duration? = nil) async throws -> Bool {
        let milliseconds = try ttl.map { try CoordinationInput.milliseconds($0, "time to live") } ?? 0
        try Self.check(value)
        let reply = try await call(key) {
            try await redis.evaluate(Scripts.compareAndSet, keys: [$0],
                                     arguments: [expected == nil ? "0" : "1", expected ?? [], value, milliseconds], timeout: timeout)
        }
        return reply.integer == 1
    }

    /// Removes `key`.
    /// - Returns: whether it had a value.
    /// - Throws: `ConveyorError.Code.invalidArguments` for a bad key; `backendUnavailable`.
    @discardableResult
    public func delete(_ key: String) async throws -> Bool {
        try await call(key) { try await redis.send(["DEL", $0], timeout: timeout) }.integer == 1
    }

    /// Seconds `key` has left to live; nil when it has no value or never expires.
    /// - Throws: `ConveyorError.Code.invalidArguments` for a bad key; `backendUnavailable`.
    public func timeToLive(_ key: String) async throws -> Double? {
        let milliseconds = try await call(key) { try await redis.send(["PTTL", $0], timeout: timeout) }.integer ?? -2
        return milliseconds >= 0 ? Double(milliseconds) / 1000 : nil
    }

    /// Runs one command on the Redis key of `key`, translating Redis' errors.
    func call(_ key: String, _ body: (String) async throws -> RedisReply) async throws -> RedisReply {
        let redisKey = Keys.keyValue(try CoordinationInput.key(key, "key"))
        do {
            return try await body(redisKey)
        } catch let error as RedisError {
            throw ConveyorError(.backendUnavailable, "key \(key): Redis unavailable: \(error.message)")
        }
    }

    /// `PX milliseconds` for a ttl, nothing for none.
    private static func expiry(_ ttl: Duration?) throws -> [any RedisArgument] {
        guard let ttl else { return [] }
        return ["PX", try CoordinationInput.milliseconds(ttl, "time to live")]
    }

    static func check(_ value: [UInt8]) throws {
        guard value.count <= maxValueBytes else {
            throw ConveyorError(.invalidArguments, "a value may be at most \(maxValueBytes) bytes, not \(value.count)")
        }
    }
}

extension KeyValueStore {
    /// The value of `key` as JSON, or nil when there is none.
    /// - Throws: as `get(_:)`; `ConveyorError.Code.invalidArguments` when the value is not JSON.
    public func json(_ key: String) async throws -> JSON? {
        guard let bytes = try await get(key) else { return nil }
        do {
            return try JSON.parse(bytes)
        } catch {
            throw ConveyorError(.invalidArguments, "the value of key \(key) is not JSON: \(error)")
        }
    }

    /// Stores `value` as compact JSON; see `set(_:_:ttl:)`.
    public func set(_ key: String, json value: JSON, ttl: Duration? = nil) async throws {
        try await set(key, value.serialized(.compact), ttl: ttl)
    }

    /// Stores `value` as compact JSON only when `key` has none; see `setIfAbsent(_:_:ttl:)`.
    @discardableResult
    public func setIfAbsent(_ key: String, json value: JSON, ttl: Duration? = nil) async throws -> Bool {
        try await setIfAbsent(key, value.serialized(.compact), ttl: ttl)
    }
}

extension ConveyorClient {
    /// Keys and values in the result store's Redis (see `KeyValueStore`).
    public var keyValues: KeyValueStore { KeyValueStore(client: self) }
}

extension TaskContext {
    /// Keys and values in the result store's Redis, shared by the fleet (see `KeyValueStore`).
    public var keyValues: KeyValueStore { KeyValueStore(client: client) }

    /// The fleet-wide rate limiter, for limits on keys of the task's choosing (a recipient
    /// domain, an API account); see `RateLimiter`.
    public var rateLimiter: RateLimiter { RateLimiter(client: client) }
}

extension Scripts {
    /// Compare-and-set, fenced when a lock is given. KEYS[1] = the key, KEYS[2] (fenced only) =
    /// the lock's token counter. ARGV[1] = "1" when a value is expected ("0": none), ARGV[2] = the
    /// expected value, ARGV[3] = the new value, ARGV[4] = ttl ms (0: none), ARGV[5] (fenced only)
    /// = the writer's token. Returns -1 when a newer token was handed out, 0 when the current
    /// value differed, 1 when replaced.
    static let compareAndSet = RedisScript("""
        if KEYS[2] and tonumber(redis.call('GET', KEYS[2]) or '0') ~= tonumber(ARGV[5]) then return -1 end
        local current = redis.call('GET', KEYS[1])
        if ARGV[1] == '1' then
          if current ~= ARGV[2] then return 0 end
        elseif current then
          return 0
        end
        if tonumber(ARGV[4]) > 0 then
          redis.call('SET', KEYS[1], ARGV[3], 'PX', tonumber(ARGV[4]))
        else
          redis.call('SET', KEYS[1], ARGV[3])
        end
        return 1
        """)
}

extension Keys {
    /// A job's own key (`KeyValueStore`).
    static func keyValue(_ key: String) -> String { "conveyor:kv:" + key }
}
