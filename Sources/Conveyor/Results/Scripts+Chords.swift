import Redis

/// Celery 5.7's chord scripts (`celery/backends/redis.py`), unchanged, so a chord whose header
/// tasks finish on Swift and Python workers is counted once, by one set of rules.
extension Scripts {
    /// Records one header task's result and, when it completes the chord, claims the body's
    /// dispatch in the same execution (`CHORD_PART_RETURN_LUA`).
    ///
    /// KEYS = `.j` (results, ZSET scored by `group_index`), `.t` (parts added at runtime), `.s`
    /// (size), `.d` (`<tid>:<index>` already counted), the group key, `.c` (dispatch claim).
    /// ARGV = task id, `[1, tid, state, result]` JSON, "1" (ordered), score, chord expiry,
    /// group expiry, claim expiry, claim token. Returns `{readycount, totaldiff, size, claimed}`
    /// or `{-1, 0, 0, 0}` when the chord already completed (a late duplicate).
    static let chordPartReturn = RedisScript("""
        local jkey, tkey, skey, dkey, gkey, ckey = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6]
        local tid, value, ordered, score = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
        local expires, group_expires = tonumber(ARGV[5]), tonumber(ARGV[6])
        local claim_expires = tonumber(ARGV[7])
        local claim_token = ARGV[8]

        local done_marker = redis.call('GET', ckey)
        if done_marker == 'done' then
            return {-1, 0, 0, 0}
        end

        local member = tid .. ':' .. score
        if redis.call('SISMEMBER', dkey, member) == 0 then
            if ordered == '1' then
                redis.call('ZADD', jkey, score, value)
            else
                redis.call('RPUSH', jkey, value)
            end
            redis.call('SADD', dkey, member)
        end
        local readycount
        if ordered == '1' then
            readycount = redis.call('ZCOUNT', jkey, '-inf', '+inf')
        else
            readycount = redis.call('LLEN', jkey)
        end
        if expires > 0 then
            for _, key in ipairs({jkey, tkey, skey, dkey}) do
                redis.call('EXPIRE', key, expires)
            end
            if group_expires > 0 then
                redis.call('EXPIRE', gkey, group_expires)
            end
        end

        local totaldiff = redis.call('GET', tkey)
        local size = redis.call('GET', skey)
        local claimed = 0
        if size and readycount == tonumber(size) + tonumber(totaldiff or 0) then
            if redis.call('SET', ckey, claim_token, 'NX', 'EX', claim_expires) then
                claimed = 1
            end
        end

        return {readycount, totaldiff, size, claimed}
        """)

    /// Releases the dispatch claim and removes the chord's data when the token still owns it,
    /// leaving a `done` marker for late duplicates (`CHORD_CLEANUP_LUA`).
    /// KEYS = `.c`, `.j`, `.t`, `.s`, `.d`; ARGV = token, marker expiry. Returns 1 when cleaned.
    static let chordCleanup = RedisScript("""
        local ckey = KEYS[1]
        local jkey = KEYS[2]
        local tkey = KEYS[3]
        local skey = KEYS[4]
        local dkey = KEYS[5]
        local token = ARGV[1]
        local done_expires = tonumber(ARGV[2])

        if redis.call('GET', ckey) == token then
            redis.call('DEL', jkey, tkey, skey, dkey)
            if done_expires and done_expires > 0 then
                redis.call('SET', ckey, 'done', 'EX', done_expires)
            end
            return 1
        end
        return 0
        """)

    /// Extends the dispatch claim while this worker owns it, or takes an expired one back while
    /// the chord's data remains (`CHORD_CLAIM_EXTEND_LUA`). KEYS = `.c`, `.s`; ARGV = token,
    /// seconds. Returns 1 when the claim is held.
    static let chordClaimExtend = RedisScript("""
        local ckey, skey = KEYS[1], KEYS[2]
        local token = ARGV[1]
        local expires = tonumber(ARGV[2])
        if redis.call('GET', ckey) == token then
            return redis.call('EXPIRE', ckey, expires)
        end
        if not redis.call('GET', ckey) and redis.call('EXISTS', skey) == 1 then
            return redis.call('SET', ckey, token, 'EX', expires, 'NX') and 1 or 0
        end
        return 0
        """)
}
