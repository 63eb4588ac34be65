import Redis

/// Every Lua script Conveyor runs in Redis, in one place.
enum Scripts {
    /// Stores a task state unless SUCCESS is already stored (Celery's dedupe guard, made atomic),
    /// and publishes it on the channel named like the key, as Celery's Redis backend does.
    ///
    /// KEYS[1] = `celery-task-meta-<id>`; ARGV[1] = meta JSON; ARGV[2] = TTL seconds (0 = keep).
    /// Returns 1 when written, 0 when SUCCESS was already there.
    static let storeUnlessSucceeded = RedisScript("""
        \(currentStatus)
        if current_status(KEYS[1]) == 'SUCCESS' then return 0 end
        \(writeMeta)
        write_meta(KEYS[1], ARGV[1], ARGV[2])
        return 1
        """)

    /// Decides, atomically, whether delivered tasks may start, and records that they started (a
    /// busy worker admits deliveries in batches; a lone one is a batch of one).
    ///
    /// KEYS = for each task: meta key, redelivery counter, revoked marker.
    /// ARGV[1] = result TTL, ARGV[2] = counter TTL, then for each task: STARTED meta JSON,
    /// "1" to store STARTED, "1" when redelivered.
    /// Returns one `{decision, n}` per task: `{"revoked", 0}`, `{"done", 0}` (SUCCESS already
    /// stored: a duplicate), or `{"run", n}` where `n` counts the unfinished earlier runs of this
    /// task id. A first delivery is not counted (no key per task on the hot path). A redelivery
    /// is counted when the earlier run got as far as starting: while STARTED is tracked, only
    /// if a run's mark (STARTED or a custom state) is still stored, so messages handed back
    /// unstarted (prefetched, or requeued by a clean shutdown, which clears the mark) do not
    /// count; without tracking, every redelivery counts.
    static let beginTasks = RedisScript("""
        \(currentStatus)
        \(writeMeta)
        \(runMark)
        local out = {}
        for i = 0, (#KEYS / 3) - 1 do
          local meta, counter, revoked = KEYS[i * 3 + 1], KEYS[i * 3 + 2], KEYS[i * 3 + 3]
          local started, store, redelivered = ARGV[3 + i * 3], ARGV[4 + i * 3], ARGV[5 + i * 3]
          local is_revoked = redis.call('EXISTS', revoked) == 1
          local status = nil
          if not is_revoked then status = current_status(meta) end
          if is_revoked then
            out[i + 1] = {'revoked', 0}
          elseif status == 'SUCCESS' then
            out[i + 1] = {'done', 0}
          else
            local starts = 0
            if redelivered == '1' and (store ~= '1' or is_run_mark(status)) then
              starts = redis.call('INCR', counter)
              redis.call('EXPIRE', counter, tonumber(ARGV[2]))
            end
            if store == '1' then write_meta(meta, started, ARGV[1]) end
            out[i + 1] = {'run', starts}
          end
        end
        return out
        """)

    /// Clears the mark of a run that a clean shutdown stopped and requeued (STARTED, or a custom
    /// state the task set), so its redelivery does not count as an unfinished run.
    /// KEYS[1] = meta key. Returns 1 when a mark was cleared.
    static let clearRunMark = RedisScript("""
        \(currentStatus)
        \(runMark)
        if is_run_mark(current_status(KEYS[1])) then
          redis.call('DEL', KEYS[1])
          return 1
        end
        return 0
        """)

    /// Marks task ids revoked for `ARGV[1]` seconds. KEYS = revoked markers. Returns how many.
    static let revoke = RedisScript("""
        for i, key in ipairs(KEYS) do redis.call('SET', key, '1', 'EX', tonumber(ARGV[1])) end
        return #KEYS
        """)

    // The status of stored meta: Celery writes "status" first, so a prefix match is enough for
    // its format; anything else is decoded.
    private static let currentStatus = """
        local function current_status(key)
          local current = redis.call('GET', key)
          if not current then return nil end
          local status = string.match(current, '^{"status": "([%w_]+)"')
          if status then return status end
          local ok, meta = pcall(cjson.decode, current)
          if ok and type(meta) == 'table' then return meta['status'] end
          return nil
        end
        """

    // What a run leaves while it is under way: STARTED, or a custom state such as PROGRESS (not
    // Celery's PENDING, RETRY or ready states, which a run that never started can leave too).
    private static let runMark = """
        local celery_states = {PENDING = true, RECEIVED = true, RETRY = true, SUCCESS = true, FAILURE = true,
                               REVOKED = true, REJECTED = true, IGNORED = true}
        local function is_run_mark(status)
          return status == 'STARTED' or (status ~= nil and not celery_states[status])
        end
        """

    private static let writeMeta = """
        local function write_meta(key, meta, ttl)
          ttl = tonumber(ttl)
          if ttl and ttl > 0 then redis.call('SETEX', key, ttl, meta) else redis.call('SET', key, meta) end
          redis.call('PUBLISH', key, meta)
        end
        """
}

/// Conveyor's own Redis keys (everything under `conveyor:`).
enum Keys {
    /// How many times a redelivered task id has started (for the poison-message limit).
    static func starts(_ taskId: String) -> String { "conveyor:starts:" + taskId }
    /// Present while a task id is revoked.
    static func revoked(_ taskId: String) -> String { "conveyor:revoked:" + taskId }
    /// The broadcast channel workers listen on for control commands (terminate).
    static let control = "conveyor:control"
}
