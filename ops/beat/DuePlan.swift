/// Which due times of an entry fire now, after its last claimed one: the catch-up policy as a
/// pure function of the entry, the last due time and now (milliseconds since 1970).
public struct DuePlan: Sendable, Equatable {
    /// Due times to fire now, oldest first.
    public var fire: [Int64] = []
    /// Due times passed over (by the policy, or beyond the bound of `maxCatchUp`).
    public var skipped = 0
    /// The newest due time at or before now, when any is: the entry's last due time afterwards.
    public var newest: Int64?

    /// The longest stretch of cron due times looked through at once: older ones count as skipped.
    static let cronHorizonMilliseconds: Int64 = 31 * 86_400_000

    /// A plan as given (tests compare with it).
    init(fire: [Int64] = [], skipped: Int = 0, newest: Int64? = nil) {
        self.fire = fire
        self.skipped = skipped
        self.newest = newest
    }

    /// - Parameters:
    ///   - last: the entry's last claimed due time.
    ///   - now: the time now.
    ///   - grace: how late a run may be and still fire under `.none` (the leader lease).
    ///   - maxCatchUp: the most runs `.all` fires at once (the newest ones).
    public init(_ entry: BeatEntry, last: Int64, now: Int64, grace: Int64, maxCatchUp: Int) {
        var due: [Int64] = []
        var extra = 0
        switch entry.trigger {
        case let .every(interval):
            guard now > last else { return }
            let count = (now - last) / interval
            guard count > 0 else { return }
            // Only the newest maxCatchUp can fire; the rest are counted, not listed.
            let listed = min(count, Int64(max(1, maxCatchUp)))
            extra = Int(count - listed)
            due = (0..<listed).map { last + (count - listed + 1 + $0) * interval }
        case .cron:
            var cursor = last
            if now - last > Self.cronHorizonMilliseconds {
                cursor = now - Self.cronHorizonMilliseconds
                extra = 1  // at least one run older than the horizon; not counted exactly
            }
            while let next = entry.next(after: cursor), next <= now {
                due.append(next)
                cursor = next
            }
        }
        guard let newest = due.last else {
            skipped = extra
            return
        }
        self.newest = newest
        switch entry.catchUp {
        case .all:
            fire = Array(due.suffix(max(1, maxCatchUp)))
        case .one:
            fire = [newest]
        case .none:
            fire = now - newest <= grace ? [newest] : []
        }
        skipped = extra + due.count - fire.count
    }
}
