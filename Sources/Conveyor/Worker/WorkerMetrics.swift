import CoreMetrics
import Synchronization

/// What a worker reports through swift-metrics, to whichever backend the process bootstrapped
/// (`MetricsSystem.bootstrap`) before creating the worker; without one every handle is a no-op.
///
/// Per task and queue: `conveyor_tasks_received_total`, `conveyor_tasks_finished_total{outcome}`,
/// the timers `conveyor_task_duration_seconds` (the body's run) and `conveyor_task_wait_seconds`
/// (delivery to start). Handles are made once per task and queue and kept, so the hot path is a
/// dictionary lookup and the backend's increment. Task names this worker has not registered
/// share the label `WorkerMetrics.unregisteredTask`: a flood of junk names costs one series.
final class WorkerMetrics: Sendable {
    /// How this worker finished with a delivery: the `outcome` label.
    enum Outcome: Int, CaseIterable, Sendable {
        /// Ran and its result was stored (or ignored).
        case success
        /// Ran (or was poison) and FAILURE was stored.
        case failure
        /// Failed and was sent to run again (`retries` + 1).
        case retry
        /// Revoked, expired or terminated.
        case revoked
        /// Not runnable here (undecodable, unknown task, headers too large): dead-lettered unrun.
        case rejected
        /// Sent to run later without counting a retry (rate limit, lock: `TaskDeferral`).
        case deferred
        /// Handed back to the broker (a shutdown, Redis down past the store retry window).
        case requeued
        /// A future ETA: sent into the delay cascade.
        case delayed
        /// A redelivered duplicate of a task that already succeeded.
        case skipped

        var label: String { "\(self)" }
    }

    /// The `task` label of every task name the worker has not registered.
    static let unregisteredTask = "unregistered"

    /// One task's series on one queue.
    final class TaskSeries: Sendable {
        let received: Counter
        let duration: Timer
        let wait: Timer
        private let finished: [Counter]

        init(task: String, queue: String) {
            let labels = [("task", task), ("queue", queue)]
            received = Counter(label: "conveyor_tasks_received_total", dimensions: labels)
            duration = Timer(label: "conveyor_task_duration_seconds", dimensions: labels, preferredDisplayUnit: .seconds)
            wait = Timer(label: "conveyor_task_wait_seconds", dimensions: labels, preferredDisplayUnit: .seconds)
            finished = Outcome.allCases.map { Counter(label: "conveyor_tasks_finished_total", dimensions: labels + [("outcome", $0.label)]) }
        }

        func finished(_ outcome: Outcome) { finished[outcome.rawValue].increment() }

        /// Records how long the delivery waited for its start.
        func waited(seconds: Double) { wait.recordNanoseconds(WorkerMetrics.nanoseconds(seconds)) }

        /// Records how long the task body ran.
        func ran(seconds: Double) { duration.recordNanoseconds(WorkerMetrics.nanoseconds(seconds)) }
    }

    /// `seconds` in whole nanoseconds, 0 for a negative or NaN, clamped at `Int64.max`.
    /// swift-metrics' own `recordSeconds` costs about 0.3 µs a call (its generic floating-point
    /// conversions), more than the rest of a task's metrics together.
    static func nanoseconds(_ seconds: Double) -> Int64 {
        let nanoseconds = seconds * 1e9
        return nanoseconds >= 9.2e18 ? Int64.max : nanoseconds > 0 ? Int64(nanoseconds) : 0
    }

    private struct SeriesKey: Hashable {
        let task: String
        let queue: String
    }

    private let known: Set<String>
    private let series = Mutex<[SeriesKey: TaskSeries]>([:])
    /// Whether each connection was up once: connecting again after that is a reconnect.
    private let everConnected = Mutex((broker: false, redis: false))

    let activeTasks = Gauge(label: "conveyor_active_tasks")
    let reservedTasks = Gauge(label: "conveyor_reserved_tasks")
    let concurrency = Gauge(label: "conveyor_concurrency")
    let draining = Gauge(label: "conveyor_draining")
    let brokerConnected = Gauge(label: "conveyor_broker_connected")
    let redisConnected = Gauge(label: "conveyor_redis_connected")
    let brokerReconnects = Counter(label: "conveyor_broker_reconnects_total")
    let redisReconnects = Counter(label: "conveyor_redis_reconnects_total")

    /// - Parameter registered: the task names the worker runs; any other name is folded.
    init(registered: [String]) {
        known = Set(registered)
    }

    /// The series of `task` on `queue`, made on first use.
    func series(_ task: String, queue: String) -> TaskSeries {
        let key = SeriesKey(task: known.contains(task) ? task : Self.unregisteredTask, queue: queue)
        if let existing = series.withLock({ $0[key] }) { return existing }
        // Made outside the lock (the backend may take its own); the first one stored wins.
        let made = TaskSeries(task: key.task, queue: key.queue)
        return series.withLock { s in
            if let existing = s[key] { return existing }
            s[key] = made
            return made
        }
    }

    /// A broker (consumer) connection state change: the gauge, and a reconnect once it was up before.
    func brokerState(connected: Bool) {
        brokerConnected.record(connected ? 1 : 0)
        guard connected else { return }
        if everConnected.withLock({ e in defer { e.broker = true }; return e.broker }) { brokerReconnects.increment() }
    }

    /// A Redis connection state change: the gauge, and a reconnect once it was up before.
    func redisState(connected: Bool) {
        redisConnected.record(connected ? 1 : 0)
        guard connected else { return }
        if everConnected.withLock({ e in defer { e.redis = true }; return e.redis }) { redisReconnects.increment() }
    }

    /// Counts a finished delivery.
    func finished(_ task: String, queue: String, _ outcome: Outcome) {
        series(task, queue: queue).finished(outcome)
    }
}
