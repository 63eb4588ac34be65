import Redis

/// Every Lua script Conveyor runs in Redis, in one place: `Scripts` and its extensions
/// (`Scripts+RateLimits.swift`, …).
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
    /// KEYS = for each task: meta key, redelivery counter, revoked marker, requeue record.
    /// ARGV[1] = result TTL, ARGV[2] = counter TTL, ARGV[3] = most clean requeues forgiven,
    /// then for each task: STARTED meta JSON, "1" to store STARTED, "1" when redelivered.
    /// Returns one integer per task (no table or string each, on the hot path): -1 revoked, -2
    /// SUCCESS already stored (a duplicate), else `n` >= 0, run it: `n` counts the unfinished
    /// earlier runs of this task id. A first delivery is not counted (no key per task on the hot path); a redelivery
    /// is, unless a clean shutdown requeued the run before it (`markRequeued`): those are
    /// forgiven, up to ARGV[3] of them per task, so a task that makes its own worker shut down
    /// cleanly still ends up poison.
    static let beginTasks = RedisScript("""
        \(currentStatus)
        \(writeMeta)
        local out = {}
        for i = 0, (#KEYS / 4) - 1 do
          local meta, counter, revoked, requeued = KEYS[i * 4 + 1], KEYS[i * 4 + 2], KEYS[i * 4 + 3], KEYS[i * 4 + 4]
          local started, store, redelivered = ARGV[4 + i * 3], ARGV[5 + i * 3], ARGV[6 + i * 3]
          if redis.call('EXISTS', revoked) == 1 then
            out[i + 1] = -1
          elseif current_status(meta) == 'SUCCESS' then
            out[i + 1] = -2
          else
            local starts = 0
            if redelivered == '1' then
              local forgiven = false
              if redis.call('HGET', requeued, 'pending') == '1' then
                redis.call('HSET', requeued, 'pending', '0')
                forgiven = tonumber(redis.call('HGET', requeued, 'total') or '0') <= tonumber(ARGV[3])
              end
              if forgiven then
                starts = tonumber(redis.call('GET', counter) or '0')
              else
                starts = redis.call('INCR', counter)
                redis.call('EXPIRE', counter, tonumber(ARGV[2]))
              end
            end
            if store == '1' then write_meta(meta, started, ARGV[1]) end
            starts = tonumber(starts) or 0
            if starts < 0 then starts = 0 end
            out[i + 1] = starts
          end
        end
        return out
        """)

    /// Records that a clean shutdown stopped a run and requeued its message, so the redelivery
    /// is forgiven (see `beginTasks`). The run's STARTED state is removed (the task waits again:
    /// PENDING) when it is this worker's, not another's that took the task over meanwhile.
    /// KEYS[1] = requeue record, KEYS[2] = meta key. ARGV[1] = record TTL, ARGV[2] = hostname,
    /// ARGV[3] = pid.
    static let markRequeued = RedisScript("""
        \(deleteOwnStarted)
        redis.call('HSET', KEYS[1], 'pending', '1')
        redis.call('HINCRBY', KEYS[1], 'total', 1)
        redis.call('EXPIRE', KEYS[1], tonumber(ARGV[1]))
        delete_own_started(KEYS[2], ARGV[2], ARGV[3])
        return 1
        """)

    /// Removes a task's STARTED state when this worker's run stored it (a deferred run: the task
    /// is PENDING again until its copy runs). KEYS[1] = meta key. ARGV[1] = hostname, ARGV[2] = pid.
    /// Returns 1 when removed.
    static let clearStarted = RedisScript("""
        \(deleteOwnStarted)
        return delete_own_started(KEYS[1], ARGV[1], ARGV[2])
        """)

    /// Marks task ids revoked for `ARGV[1]` seconds. KEYS = revoked markers. Returns how many.
    static let revoke = RedisScript("""
        for i, key in ipairs(KEYS) do redis.call('SET', key, '1', 'EX', tonumber(ARGV[1])) end
        return #KEYS
        """)

    // The status of stored meta: Celery writes "status" first, so a prefix match is enough for
    // its format; anything else is decoded.
    static let currentStatus = """
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

    // Deletes the meta at `key` if it is STARTED by `hostname`/`pid` (not another worker's run
    // that took the task over meanwhile). Returns 1 when deleted.
    private static let deleteOwnStarted = """
        local function delete_own_started(key, hostname, pid)
          local current = redis.call('GET', key)
          if not current then return 0 end
          local ok, meta = pcall(cjson.decode, current)
          if ok and type(meta) == 'table' and meta['status'] == 'STARTED' and type(meta['result']) == 'table'
             and meta['result']['hostname'] == hostname and tostring(meta['result']['pid']) == pid then
            redis.call('DEL', key)
            return 1
          end
          return 0
        end
        """

    static let writeMeta = """
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
    static func starts(_ taskId: String) -> String { startsPrefix + taskId }
    static let startsPrefix = "conveyor:starts:"
    /// Clean-shutdown requeues of a task id: `pending` (one to forgive) and `total`.
    static func requeued(_ taskId: String) -> String { requeuedPrefix + taskId }
    static let requeuedPrefix = "conveyor:requeued:"
    /// Present while a task id is revoked.
    static func revoked(_ taskId: String) -> String { revokedPrefix + taskId }
    static let revokedPrefix = "conveyor:revoked:"
    /// The broadcast channel workers listen on for control commands (terminate).
    static let control = "conveyor:control"

    /// Script flags, made once.
    static let zero = Array("0".utf8), one = Array("1".utf8)
}
