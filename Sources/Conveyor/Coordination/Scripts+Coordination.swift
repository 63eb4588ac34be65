import Redis

/// The Lua of locks, fences, concurrency caps, unique jobs and progress. Every time is Redis'
/// own (`PEXPIRE`, `TIME`), so workers' clocks never have to agree.
extension Scripts {
    /// Takes a lock when nobody holds it, with a fencing token from a counter that never expires.
    ///
    /// KEYS[1] = lock hash, KEYS[2] = token counter. ARGV[1] = lease ms, ARGV[2] = holder.
    /// Returns `{1, token}` when taken, `{0, ms left of the current holder's lease}` when busy.
    static let acquireLock = RedisScript("""
        if redis.call('EXISTS', KEYS[1]) == 1 then return {0, redis.call('PTTL', KEYS[1])} end
        local token = redis.call('INCR', KEYS[2])
        redis.call('HSET', KEYS[1], 'token', token, 'holder', ARGV[2])
        redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[1]))
        return {1, token}
        """)

    /// Extends a lease, only for the holder of `token`. KEYS[1] = lock hash. ARGV[1] = token,
    /// ARGV[2] = lease ms. Returns 1 when extended, 0 when the lease is gone or someone else's.
    static let renewLock = RedisScript("""
        if redis.call('HGET', KEYS[1], 'token') == ARGV[1] then
          redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[2]))
          return 1
        end
        return 0
        """)

    /// Compare-and-delete: frees a lock only for the holder of `token`. KEYS[1] = lock hash,
    /// ARGV[1] = token. Returns 1 when freed.
    static let releaseLock = RedisScript("""
        if redis.call('HGET', KEYS[1], 'token') == ARGV[1] then
          redis.call('DEL', KEYS[1])
          return 1
        end
        return 0
        """)

    /// The fence at a protected resource: accepts a token no lower than the highest it has
    /// seen (and records it), refuses a lower one. With ARGV[2] = "1" it also stores ARGV[3]
    /// as the resource's value, in the same step.
    ///
    /// KEYS[1] = fence hash. ARGV[1] = token. Returns `{1, previous highest}` when accepted,
    /// `{0, highest}` when refused.
    static let fence = RedisScript("""
        local highest = tonumber(redis.call('HGET', KEYS[1], 'token') or '0')
        if tonumber(ARGV[1]) < highest then return {0, highest} end
        redis.call('HSET', KEYS[1], 'token', ARGV[1])
        if ARGV[2] == '1' then redis.call('HSET', KEYS[1], 'value', ARGV[3]) end
        return {1, highest}
        """)

    // Milliseconds on Redis' clock.
    private static let nowMilliseconds = """
        local clock = redis.call('TIME')
        local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
        """

    // Keeps a cap's set until its last lease ends (and a second more), so no key outlives its
    // holders.
    private static let expireCap = """
        local function expire_cap(key, now)
          local last = redis.call('ZRANGE', key, -1, -1, 'WITHSCORES')
          if last[2] then redis.call('PEXPIRE', key, math.max(1, tonumber(last[2]) - now + 1000)) end
        end
        """

    /// Takes one of a cap's slots: a lease in a sorted set scored by its expiry on Redis' clock;
    /// expired leases (killed holders) are dropped first.
    ///
    /// KEYS[1] = cap set. ARGV[1] = limit, ARGV[2] = lease ms, ARGV[3] = member.
    /// Returns `{1, 0}` when taken (or already held by `member`), `{0, ms until the earliest
    /// lease ends}` when full.
    static let acquireCap = RedisScript("""
        \(nowMilliseconds)
        \(expireCap)
        redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
        if redis.call('ZSCORE', KEYS[1], ARGV[3]) or redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[1]) then
          redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[3])
          expire_cap(KEYS[1], now)
          return {1, 0}
        end
        local first = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
        return {0, math.max(0, tonumber(first[2]) - now)}
        """)

    /// Extends a cap lease that has not ended. KEYS[1] = cap set. ARGV[1] = lease ms,
    /// ARGV[2] = member. Returns 1 when extended, 0 when the lease is gone.
    static let renewCap = RedisScript("""
        \(nowMilliseconds)
        \(expireCap)
        local score = redis.call('ZSCORE', KEYS[1], ARGV[2])
        if not score or tonumber(score) <= now then
          redis.call('ZREM', KEYS[1], ARGV[2])
          return 0
        end
        redis.call('ZADD', KEYS[1], now + tonumber(ARGV[1]), ARGV[2])
        expire_cap(KEYS[1], now)
        return 1
        """)

    /// Claims a unique key for a task id: `SET NX EX`, or the id that already holds it.
    /// KEYS[1] = unique key. ARGV[1] = task id, ARGV[2] = seconds.
    /// Returns `{1, task id}` when claimed, `{0, holder's task id}` when taken.
    static let claimUnique = RedisScript("""
        if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'EX', tonumber(ARGV[2])) then return {1, ARGV[1]} end
        return {0, redis.call('GET', KEYS[1])}
        """)

    /// Compare-and-delete of a unique key: only the task that claimed it frees it.
    /// KEYS[1] = unique key, ARGV[1] = task id. Returns 1 when freed.
    static let releaseUnique = RedisScript("""
        if redis.call('GET', KEYS[1]) == ARGV[1] then
          redis.call('DEL', KEYS[1])
          return 1
        end
        return 0
        """)

    /// Stores a custom state (PROGRESS) unless the task already has a final one, and publishes
    /// it like any state. KEYS[1] = meta key. ARGV[1] = meta JSON, ARGV[2] = TTL (0 = keep).
    /// Returns 1 when written, 0 when SUCCESS, FAILURE or REVOKED was there.
    static let storeProgress = RedisScript("""
        \(currentStatus)
        \(writeMeta)
        local status = current_status(KEYS[1])
        if status == 'SUCCESS' or status == 'FAILURE' or status == 'REVOKED' then return 0 end
        write_meta(KEYS[1], ARGV[1], ARGV[2])
        return 1
        """)
}

extension Keys {
    /// A held lock: hash `token`, `holder`; expires with its lease.
    static func lock(_ name: String) -> String { lockPrefix + name }
    static let lockPrefix = "conveyor:lock:"
    /// A lock's fencing-token counter. It never expires: a token is never handed out twice.
    static func lockToken(_ name: String) -> String { "conveyor:lock-token:" + name }
    /// The highest token a fenced resource has accepted (and its value, when it keeps one).
    static func fence(_ name: String) -> String { "conveyor:fence:" + name }
    /// A concurrency cap's leases: member → expiry (ms on Redis' clock).
    static func cap(_ key: String) -> String { capPrefix + key }
    static let capPrefix = "conveyor:cap:"
    /// A unique job's claim: the task id that holds it.
    static func unique(_ key: String) -> String { "conveyor:unique:" + key }
}
