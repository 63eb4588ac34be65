import Redis

/// Every Lua script Conveyor runs in Redis, in one place.
enum Scripts {
    /// Stores a task state unless SUCCESS is already stored (Celery's dedupe guard, made atomic),
    /// and publishes it on the channel named like the key, as Celery's Redis backend does.
    ///
    /// KEYS[1] = `celery-task-meta-<id>`; ARGV[1] = meta JSON; ARGV[2] = TTL seconds (0 = keep).
    /// Returns 1 when written, 0 when SUCCESS was already there.
    static let storeUnlessSucceeded = RedisScript("""
        local current = redis.call('GET', KEYS[1])
        if current then
          local status = string.match(current, '^{"status": "([%w_]+)"')
          if not status then
            local ok, meta = pcall(cjson.decode, current)
            if ok and type(meta) == 'table' then status = meta['status'] end
          end
          if status == 'SUCCESS' then return 0 end
        end
        local ttl = tonumber(ARGV[2])
        if ttl and ttl > 0 then
          redis.call('SETEX', KEYS[1], ttl, ARGV[1])
        else
          redis.call('SET', KEYS[1], ARGV[1])
        end
        redis.call('PUBLISH', KEYS[1], ARGV[1])
        return 1
        """)
}
