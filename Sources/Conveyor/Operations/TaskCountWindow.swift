/// How many tasks of one name were received, succeeded, failed and were retried over a
/// sliding window of whole seconds, with the runtimes of those that succeeded.
///
/// A ring of one bucket per second: memory stays fixed however fast events come, and a bucket
/// is reused once its second has left the window. An event counts while its second `s`
/// satisfies `now - window < s <= now`, `now` being the whole second asked about.
struct TaskCountWindow: Sendable {
    private struct Bucket: Sendable {
        var second = Int64.min
        var counts = TaskCounts()
    }

    let window: Int
    private var buckets: [Bucket]

    /// - Parameter window: seconds, at least 1.
    init(window: Int) {
        self.window = max(1, window)
        buckets = Array(repeating: Bucket(), count: self.window)
    }

    /// Counts one event of `kind` in `second`; one older than the window of `latest` (the
    /// newest second seen) is dropped, as its bucket already holds a later second.
    mutating func record(_ kind: TaskCounts.Kind, second: Int64, runtime: Double? = nil) {
        let index = Int(second.remainderReportingOverflow(dividingBy: Int64(window)).partialValue)
        let slot = index < 0 ? index + window : index
        if buckets[slot].second != second {
            guard buckets[slot].second < second else { return }
            buckets[slot] = Bucket(second: second)
        }
        buckets[slot].counts.add(kind, runtime: runtime)
    }

    /// The counts of the window that ends with second `now`.
    func totals(at now: Int64) -> TaskCounts {
        let (start, overflow) = now.subtractingReportingOverflow(Int64(window))
        var totals = TaskCounts()
        for bucket in buckets where (overflow || bucket.second > start) && bucket.second <= now {
            totals.merge(bucket.counts)
        }
        return totals
    }
}

/// Task outcomes counted over a window (`conveyor top`'s per-task rates).
public struct TaskCounts: Sendable, Equatable {
    /// What happened to a task.
    public enum Kind: Sendable {
        /// `task-received`.
        case received
        /// `task-succeeded`.
        case succeeded
        /// `task-failed`.
        case failed
        /// `task-retried`.
        case retried
    }

    /// `task-received` events.
    public var received = 0
    /// `task-succeeded` events.
    public var succeeded = 0
    /// `task-failed` events.
    public var failed = 0
    /// `task-retried` events.
    public var retried = 0
    /// Sum of the `runtime` of the successes that gave one, seconds.
    public var runtimeSum = 0.0
    /// How many successes gave a `runtime`.
    public var runtimeCount = 0

    /// Nothing counted.
    public init() {}

    /// The mean runtime of the successes that gave one, seconds; nil without any.
    public var meanRuntime: Double? { runtimeCount > 0 ? runtimeSum / Double(runtimeCount) : nil }

    /// Whether nothing was counted.
    public var isEmpty: Bool { received == 0 && succeeded == 0 && failed == 0 && retried == 0 }

    mutating func add(_ kind: Kind, runtime: Double?) {
        // Counts come from any process on the broker: they saturate, never trap.
        func bump(_ value: inout Int) { value = value == Int.max ? value : value + 1 }
        switch kind {
        case .received: bump(&received)
        case .succeeded:
            bump(&succeeded)
            if let runtime, runtime.isFinite, runtime >= 0, runtime < 1e9 {
                runtimeSum += runtime
                bump(&runtimeCount)
            }
        case .failed: bump(&failed)
        case .retried: bump(&retried)
        }
    }

    mutating func merge(_ other: TaskCounts) {
        func sum(_ a: Int, _ b: Int) -> Int {
            let (total, overflow) = a.addingReportingOverflow(b)
            return overflow ? Int.max : total
        }
        received = sum(received, other.received)
        succeeded = sum(succeeded, other.succeeded)
        failed = sum(failed, other.failed)
        retried = sum(retried, other.retried)
        runtimeSum += other.runtimeSum
        runtimeCount = sum(runtimeCount, other.runtimeCount)
    }
}
