import Synchronization

/// The same GCRA as `Scripts.rateLimitAllow`, in this process only: Celery's per-worker
/// meaning of a rate limit (`RateLimit.Scope.worker`). Takes `now` (seconds, monotonic), so its
/// tests step time instead of sleeping.
final class LocalRateLimiter: Sendable {
    private struct Cell {
        var tat: Double
        var wait: Double
        var interval: Double
    }

    /// Most keys kept (per-argument limits make one per value); past it, idle ones are dropped.
    static let maxKeys = 10_000
    private let cells = Mutex<[String: Cell]>([:])

    /// Decides one request; same meaning as `RateLimiter.acquire`'s decisions.
    func acquire(key: String, interval: Double, burst: Int, now: Double, shortestWait: Double = 1, longestWait: Double = 3600,
                 returnsPerSlot: Int = 2) -> RateLimiter.Decision {
        cells.withLock { cells in
            if cells.count >= Self.maxKeys, cells[key] == nil {
                cells = cells.filter { $0.value.tat > now || $0.value.wait > now }
                // Every key still busy: one forgets its past (it may start a burst early),
                // rather than the new key going unlimited or memory growing without end.
                if cells.count >= Self.maxKeys, let any = cells.keys.first { cells.removeValue(forKey: any) }
            }
            var cell = cells[key] ?? Cell(tat: now, wait: 0, interval: interval)
            if cell.interval != interval {
                // As in the script: debt carried over in requests, at most a full burst.
                var tat = cell.tat
                if tat > now, cell.interval > 0 { tat = min(now + (tat - now) * interval / cell.interval, now + interval * Double(burst)) }
                cell = Cell(tat: tat, wait: 0, interval: interval)
            }
            let tat = max(cell.tat, now)
            let newTat = tat + interval
            let allowAt = newTat - interval * Double(burst)
            let decision: RateLimiter.Decision
            if now >= allowAt {
                cell.tat = newTat
                decision = .init(allowed: true, retryAfter: 0, remaining: Int(((now - allowAt) / interval).rounded(.down)), wait: 0)
            } else {
                let retry = allowAt - now
                var slot = max(now + max(retry, shortestWait), cell.wait)
                slot = min(slot, now + longestWait)
                cell.wait = slot + interval / Double(max(1, returnsPerSlot))
                decision = .init(allowed: false, retryAfter: retry, remaining: 0, wait: slot - now)
            }
            cells[key] = cell
            return decision
        }
    }
}
