import Redis

extension KeyValueStore {
    /// Compare-and-set that only the newest holder of a lock can do: replaces the value of
    /// `key` with `value` if it is `expected` now (nil: only if it has none) *and* `lease`'s
    /// fencing token is still the newest one handed out for its lock, in one step on the server.
    ///
    /// This is the fence for state that a leader advances (a scheduler's "last fired"): a
    /// holder paused past its lease, whose lock someone else has taken since, is refused even
    /// though its own process still believes it leads. A holder whose lease ran out while no
    /// one took the lock keeps its token as the newest and may still write (no one else could
    /// have).
    /// - Parameters:
    ///   - key: the key (1 to 512 bytes of UTF-8).
    ///   - expected: the value it must hold now (byte for byte), or nil for none.
    ///   - value: the new value (at most `maxValueBytes`).
    ///   - lease: the lock lease whose token fences the write.
    ///   - ttl: the new value's time to live, 1 ms to 30 days; nil keeps it until deleted.
    /// - Returns: whether it was replaced (false: the current value differed from `expected`).
    /// - Throws: `LockError.Code.staleToken` when a newer token was handed out for the lock;
    ///   `ConveyorError.Code.invalidArguments` for a bad key, value or ttl; `backendUnavailable`.
    @discardableResult
    public func compareAndSet(_ key: String, expected: [UInt8]?, _ value: [UInt8], fencedBy lease: LockLease,
                              ttl: Duration? = nil) async throws -> Bool {
        let milliseconds = try ttl.map { try CoordinationInput.milliseconds($0, "time to live") } ?? 0
        guard value.count <= Self.maxValueBytes else {
            throw ConveyorError(.invalidArguments, "a value may be at most \(Self.maxValueBytes) bytes, not \(value.count)")
        }
        let redisKey = Keys.keyValue(try CoordinationInput.key(key, "key"))
        let reply: RedisReply
        do {
            reply = try await redis.evaluate(Scripts.fencedCompareAndSet, keys: [redisKey, Keys.lockToken(lease.name)],
                                             arguments: [expected == nil ? "0" : "1", expected ?? [], value, milliseconds, lease.token],
                                             timeout: timeout)
        } catch let error as RedisError {
            throw ConveyorError(.backendUnavailable, "key \(key): Redis unavailable: \(error.message)")
        }
        switch reply.integer {
        case 1: return true
        case 0: return false
        default:
            throw LockError(.staleToken, name: lease.name,
                            "\(key) refused token \(lease.token) of lock \(lease.name): a newer holder took the lock since")
        }
    }
}

extension Scripts {
    /// Compare-and-set fenced by a lock's token. KEYS[1] = the key, KEYS[2] = the lock's token
    /// counter. ARGV[1] = "1" when a value is expected ("0": none), ARGV[2] = the expected value,
    /// ARGV[3] = the new value, ARGV[4] = ttl ms (0: none), ARGV[5] = the writer's token.
    /// Returns -1 when a newer token was handed out, 0 when the current value differed, 1 when
    /// replaced.
    static let fencedCompareAndSet = RedisScript("""
        if tonumber(redis.call('GET', KEYS[2]) or '0') ~= tonumber(ARGV[5]) then return -1 end
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
