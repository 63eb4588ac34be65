import Redis

/// The chord key protocol: how a chord is counted in Redis. Celery 5.7's Redis backend and
/// Conveyor both obey it, each with its own scripts, so header tasks of one chord may end on
/// Python and Swift workers at once and the body is still dispatched exactly once.
///
/// ## Keys
/// With `G` = `celery-taskset-meta-<group id>` (`ChordKeys`):
///
/// | key   | type   | holds | written by |
/// |-------|--------|-------|------------|
/// | `G`   | string | a saved `GroupResult` (`{"result": …}`) when the header holds groups | the producer; recording a part only renews its expiry |
/// | `G.s` | string | the chord size, decimal | the producer, before the header's last task is published |
/// | `G.t` | string | parts added at runtime, decimal (`INCR`); absent = 0 | `add_to_chord` |
/// | `G.j` | zset   | one member per counted part: the JSON `[1, "<task id>", "<STATE>", <result>]`, scored by the task's `group_index` (`+inf` when it has none) | recording a part |
/// | `G.d` | set    | `<task id>:<score>` of every counted part, the score written as in `G.j`'s ZADD (`"3"`, `"+inf"`) | recording a part |
/// | `G.c` | string | absent, a claim token, or `done` | see below |
///
/// `G.j` is the ordered layout (`result_chord_ordered`, on by default in Celery); Conveyor reads
/// and writes only that one, so Python workers must keep the default.
///
/// ## The claim `G.c`
/// - absent: nobody is dispatching the body.
/// - a token (an uuid's 32 hex digits, fresh per recording), with an expiry: its holder is
///   joining the parts and publishing the body. It is taken with `SET NX` by the recording
///   that completes the chord, for the claim lifetime (Celery: `max(5, 2 × join timeout)`,
///   10 s by default). Before publishing, the holder renews it for the publish lifetime; a
///   worker whose claim ran out (its holder died) takes it back, but only while `G.s` exists.
/// - `done`, with an expiry (Celery: `max(2 × claim lifetime, 300)` s): the chord finished and
///   its data was removed; a part recorded now is a late copy and changes nothing.
///
/// ## Operations
/// 1. Start (producer): delete `G.c` (a frozen chord applied again reuses its group id, and
///    the last run's `done` must not turn its parts away), then `SET G.s <size>`, with
///    `EX <chord expiry>` when that is > 0 (`ResultStore.setChordSize`).
/// 2. Record a part (`recordChordPart`), atomically:
///    - `G.c` is `done` → no write; reply "late".
///    - `<task id>:<score>` not in `G.d` → add it there and add the part to `G.j` with that
///      score. A task redelivered, even with another result, counts once.
///    - chord expiry > 0 → `G.j`, `G.t`, `G.s`, `G.d` expire in that many seconds (whether or
///      not the part was new), and `G` in the group expiry when that is > 0 too.
///    - `G.s` is set and `ZCARD G.j` equals `G.s + G.t` → `SET G.c <token> NX EX <claim>`.
/// 3. Renew the claim (`holdChordClaim`): `G.c` equals the token → expire it in the publish
///    lifetime; `G.c` absent and `G.s` present → set it to the token for that lifetime;
///    otherwise fail.
/// 4. Finish (`finishChord`), after the body was published or stored as failed: when `G.c`
///    still equals the token, delete `G.j`, `G.t`, `G.s`, `G.d` and set `G.c` to `done` for
///    the done lifetime (when that is > 0; otherwise the token stays until it expires).
///    Otherwise nothing is touched, and the data is left to its expiry.
/// 5. Fail (a header task failed): the body is failed and `G.s` deleted, so a late copy of
///    a header task cannot complete the chord again; the parts and the claim expire.
extension Scripts {
    /// Operation 2: counts one header task's part once and, when it completes the chord,
    /// claims the body's dispatch in the same step.
    ///
    /// KEYS = `G`, `G.s`, `G.t`, `G.j`, `G.d`, `G.c` (as `ChordKeys.recording`).
    /// ARGV = the part's JSON, its score, its `<task id>:<score>` entry, chord expiry, group
    /// expiry, claim token, claim lifetime (seconds; 0 = no expiry).
    /// Replies `{verdict, ready, total}`: verdict is one of `ChordPartVerdict`'s raw values,
    /// ready the parts counted, total `G.s + G.t` or -1 while the size is unknown.
    static let recordChordPart = RedisScript("""
        \(chordHelpers)
        local group, size, added, parts, seen, claim = unpack(KEYS)
        local part, score, entry = ARGV[1], ARGV[2], ARGV[3]
        local chord_ttl, group_ttl = tonumber(ARGV[4]), tonumber(ARGV[5])
        local token, claim_ttl = ARGV[6], ARGV[7]

        -- After cleanup only the marker is left: a late copy must not bring the chord back.
        if redis.call('GET', claim) == '\(ChordKeys.doneMarker)' then return {'late', 0, -1} end

        -- SADD answers 1 only for an entry it did not have: the test and the mark in one call.
        if redis.call('SADD', seen, entry) == 1 then redis.call('ZADD', parts, score, part) end
        local ready = redis.call('ZCARD', parts)

        if chord_ttl > 0 then
          expire_all({parts, added, size, seen}, chord_ttl)
          if group_ttl > 0 then expire_all({group}, group_ttl) end
        end

        local expected = stored_count(size)
        if expected == nil then return {'counting', ready, -1} end
        expected = expected + (stored_count(added) or 0)
        if ready ~= expected then return {'counting', ready, expected} end
        if redis.call('SET', claim, token, 'NX', 'EX', claim_ttl) then return {'claimed', ready, expected} end
        return {'held', ready, expected}
        """)

    /// Operation 3: keeps the dispatch claim for `token` before the body is published: renews
    /// it while `token` holds it, or takes it over when its holder's lifetime ran out and the
    /// chord's size is still there. KEYS = `G.c`, `G.s`. ARGV = token, lifetime in seconds.
    /// Replies 1 when `token` holds the claim afterwards, 0 otherwise.
    static let holdChordClaim = RedisScript("""
        local claim, size, token, ttl = KEYS[1], KEYS[2], ARGV[1], ARGV[2]
        local holder = redis.call('GET', claim)
        -- Ours: renewed (written again with the new lifetime). Nobody's, while the chord keeps
        -- its size: its holder died, so taken over. Another's, or `done`: left alone (a finished
        -- or failed chord has no size, so a vanished marker cannot be taken over either).
        local ours = holder == token
        local vacant = not holder and redis.call('EXISTS', size) == 1
        if not (ours or vacant) then return 0 end
        redis.call('SET', claim, token, 'EX', ttl)
        return 1
        """)

    /// Operation 4: when `token` still holds the claim, removes the chord's data and leaves
    /// the `done` marker for late copies. KEYS = `G.c`, `G.s`, `G.t`, `G.j`, `G.d`.
    /// ARGV = token, marker lifetime in seconds. Replies 1 when finished, 0 when the claim
    /// was someone else's (nothing touched).
    static let finishChord = RedisScript("""
        local claim, token, marker_ttl = KEYS[1], ARGV[1], tonumber(ARGV[2]) or 0
        if redis.call('GET', claim) ~= token then return 0 end
        -- The token is overwritten by the marker, or (no marker lifetime) left to its expiry.
        if marker_ttl > 0 then redis.call('SET', claim, '\(ChordKeys.doneMarker)', 'EX', marker_ttl) end
        redis.call('DEL', unpack(KEYS, 2))
        return 1
        """)

    // Helpers of `recordChordPart`, kept apart so its body reads as the protocol says it.
    private static let chordHelpers = """
        local function expire_all(keys, ttl)
          for _, key in ipairs(keys) do redis.call('EXPIRE', key, ttl) end
        end
        -- A count kept as a decimal string; nil when the key is absent (or not a number).
        local function stored_count(key)
          local text = redis.call('GET', key)
          if not text then return nil end
          return tonumber(text)
        end
        """
}
