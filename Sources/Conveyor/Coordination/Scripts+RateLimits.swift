import Redis

extension Scripts {
    /// GCRA (the generic cell rate algorithm of go-redis/redis_rate and redis-cell) for a batch
    /// of requests, on Redis' own clock (`TIME`), so every worker agrees on time whatever its
    /// own clock says.
    ///
    /// Per key a hash: `tat` (theoretical arrival time, µs), `step` (the interval, µs, it was
    /// computed with: after a change of rate the stored debt is converted), and for denied
    /// requests that asked for a place in line, `wait` (the next return time to hand out, µs). Times are written
    /// with `%.0f`: Lua's own number-to-string keeps only 14 digits, and µs since 1970 have 16.
    ///
    /// ARGV[1] = shortest wait handed out (µs), ARGV[2] = longest (µs), ARGV[3] = returns per
    /// slot (how many denied requests are told to come back for each free slot), ARGV[4] = hold
    /// window (µs; 0: none); then per key: interval (µs per request at the steady rate), burst,
    /// "1" to take a place in line.
    /// Returns `{now, {allowed, retry_after, remaining, wait, held}, …}` (µs): `retry_after` is
    /// when this request would be allowed if nothing else came first, `wait` its place in line.
    /// `held` = 1: the place is one of the slots of the next hold window, handed out one per
    /// interval (`near`), for a caller that waits for it in memory; else a place in the line of
    /// those sent away for longer (`wait`, from the shortest wait on).
    static let rateLimitAllow = RedisScript("""
        local time = redis.call('TIME')
        local now = tonumber(time[1]) * 1000000 + tonumber(time[2])
        local min_wait, max_wait, share, hold_window = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
        local out = {now}
        for i, key in ipairs(KEYS) do
          local interval = tonumber(ARGV[2 + i * 3])
          local burst = tonumber(ARGV[3 + i * 3])
          local reserve = ARGV[4 + i * 3] == '1'
          local state = redis.call('HMGET', key, 'tat', 'wait', 'step', 'near')
          local tat = tonumber(state[1]) or now
          if tat < now then tat = now end
          local step = string.format('%.0f', interval)
          local wait = tonumber(state[2]) or 0
          local near = tonumber(state[4]) or 0
          local old = tonumber(state[3])
          if old ~= interval then
            near = 0
            -- A changed rate: the line starts afresh, and the debt carries over in requests,
            -- at most a full burst (no burst right after a change, no hours of old debt).
            wait = 0
            if old and old > 0 and tat > now then
              tat = math.min(now + (tat - now) * interval / old, now + interval * burst)
            end
          end
          local new_tat = tat + interval
          local allow_at = new_tat - interval * burst
          local last = tat
          if now >= allow_at then
            redis.call('HSET', key, 'tat', string.format('%.0f', new_tat), 'step', step, 'wait', string.format('%.0f', wait),
                       'near', string.format('%.0f', near))
            last = new_tat
            out[i + 1] = {1, 0, math.floor((now - allow_at) / interval), 0, 0}
          else
            local retry = allow_at - now
            local delay = 0
            local held = 0
            local first = now + retry
            if near > first then first = near end
            if reserve and hold_window > 0 and first - now < hold_window then
              -- One per interval across the fleet: each held request gets a slot of its own.
              delay = first - now
              held = 1
              near = first + interval
              redis.call('HSET', key, 'tat', string.format('%.0f', tat), 'near', string.format('%.0f', near), 'step', step)
            elseif reserve then
              local slot = now + math.max(retry, min_wait)
              if wait > slot then slot = wait end
              if slot > now + max_wait then slot = now + max_wait end
              delay = slot - now
              wait = slot + interval / share
              -- The converted debt is stored with the step it is counted in.
              redis.call('HSET', key, 'tat', string.format('%.0f', tat), 'wait', string.format('%.0f', wait), 'step', step)
            end
            out[i + 1] = {0, retry, 0, delay, held}
          end
          if wait > last then last = wait end
          if near > last then last = near end
          redis.call('PEXPIRE', key, math.floor((last - now) / 1000) + 1000)
        end
        return out
        """)

    /// Sets or clears a run-time rate limit and bumps the version workers poll.
    /// KEYS[1] = limits hash, KEYS[2] = version counter. ARGV[1] = task name, ARGV[2] = limit
    /// JSON, or empty to clear. Returns 1 when something changed.
    static let rateLimitChange = RedisScript("""
        local changed
        if ARGV[2] == '' then
          changed = redis.call('HDEL', KEYS[1], ARGV[1])
        else
          redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
          changed = 1
        end
        redis.call('INCR', KEYS[2])
        return changed
        """)
}

extension Keys {
    /// Run-time rate limits: task name → limit JSON (`conveyor limit set`).
    static let rateLimits = "conveyor:limits"
    /// Bumped on every change to `rateLimits`; workers poll it.
    static let rateLimitsVersion = "conveyor:limits:version"

    /// The GCRA state of a task's limit, or of one argument value's. Parts are length-prefixed
    /// (so `a:b` and `a` + `b` cannot meet) and long ones replaced by their SHA-1, so a huge
    /// task name or argument cannot make a huge key.
    static func rateLimit(task: String, argument: String?) -> String {
        var key = "conveyor:rate:task:" + lengthPrefixed(task, cap: 200)
        if let argument { key += ":" + lengthPrefixed(argument, cap: 64) }
        return key
    }

    /// The GCRA state of a `RateLimiter` key chosen by its caller.
    static func rateLimit(custom key: String) -> String { "conveyor:rate:key:" + lengthPrefixed(key, cap: 200) }

    private static func lengthPrefixed(_ part: String, cap: Int) -> String {
        let length = part.utf8.count
        return length <= cap ? "\(length):" + part : "#" + SHA1.hex(Array(part.utf8))
    }
}
