import DequeModule
import Foundation

/// What a monitor learns from Celery's events (`celery/events/state.py`, simplified): the
/// workers with their last heartbeat, the tasks running now, and per-task counts over a sliding
/// window (`conveyor top`). Pure: every change takes the time it happened on the monitor's own
/// clock (when the event arrived, not the sender's `timestamp`, which another host's clock
/// wrote), so a test steps time instead of sleeping. Memory is bounded whatever the broker
/// carries: at most `limits` workers, tracked tasks and task names.
public struct FleetActivity: Sendable {
    /// Bounds on what is remembered.
    public struct Limits: Sendable {
        /// Workers remembered; the longest silent one is forgotten first.
        public var workers = 1_000
        /// Tasks received or started and not finished yet; the oldest is forgotten first (its
        /// end event was lost, or it runs for very long).
        public var tasks = 10_000
        /// Task names counted; past it, a new name is counted once an old one's window empties.
        public var taskNames = 1_000

        /// The defaults.
        public init() {}
    }

    private struct TaskRecord: Sendable {
        var name: String?
        var hostname: String
        var startedAt: Date?
    }

    /// The window of the per-task counts, whole seconds.
    public let window: Int
    /// The bounds.
    public let limits: Limits
    private var workers: [String: WorkerActivity] = [:]
    private var tasks: [String: TaskRecord] = [:]
    /// Task ids in the order first seen, to forget the oldest; finished ones are skipped lazily.
    private var taskOrder = Deque<String>()
    private var counts: [String: TaskCountWindow] = [:]

    /// - Parameters:
    ///   - window: seconds the per-task counts cover, 1 to 3600.
    ///   - limits: what is remembered at most (each at least 1).
    public init(window: Int = 60, limits: Limits = Limits()) {
        self.window = min(3600, max(1, window))
        var limits = limits
        limits.workers = max(1, limits.workers)
        limits.tasks = max(1, limits.tasks)
        limits.taskNames = max(1, limits.taskNames)
        self.limits = limits
    }

    /// Takes in one event that arrived at `now`.
    public mutating func apply(_ event: CeleryEvent, at now: Date) {
        let hostname = event.hostname
        guard !hostname.isEmpty else { return }
        switch event.type {
        case "worker-online", "worker-heartbeat", "worker-offline":
            heard(from: hostname, event, at: now)
        case let type where event.isTaskEvent:
            guard let id = event.uuid, !id.isEmpty else { return }
            task(type, id: id, event, at: now)
            // A task event says the worker is alive too, as Celery's state counts it.
            if var worker = workers[hostname], worker.state != .offline {
                worker.lastSeen = max(worker.lastSeen, now)
                workers[hostname] = worker
            }
        default:
            break
        }
    }

    /// What is known at `now`: workers by name (those gone for longer than the window left
    /// out), running tasks longest-running first, per-task counts over the window ending at
    /// `now` by name (names with none left out).
    public func snapshot(at now: Date) -> ActivitySnapshot {
        let second = Self.second(now)
        var shown: [WorkerActivity] = []
        for var worker in workers.values {
            worker.state = worker.state(at: now)
            if worker.state == .online || now.timeIntervalSince(worker.lastSeen) <= Double(window) { shown.append(worker) }
        }
        let running = tasks.compactMap { id, record -> RunningTask? in
            guard let startedAt = record.startedAt else { return nil }
            return RunningTask(id: id, name: record.name, hostname: record.hostname, startedAt: startedAt,
                               runtime: max(0, now.timeIntervalSince(startedAt)))
        }
        let rates = counts.compactMap { name, window -> TaskRates? in
            let totals = window.totals(at: second)
            return totals.isEmpty ? nil : TaskRates(name: name, counts: totals)
        }
        return ActivitySnapshot(
            workers: shown.sorted { $0.hostname < $1.hostname },
            running: running.sorted { ($0.startedAt, $0.id) < ($1.startedAt, $1.id) },
            tasks: rates.sorted { $0.name < $1.name }, window: window)
    }

    // MARK: Workers

    private mutating func heard(from hostname: String, _ event: CeleryEvent, at now: Date) {
        if workers[hostname] == nil, workers.count >= limits.workers, let silent = workers.values.min(by: { $0.lastSeen < $1.lastSeen }) {
            workers[silent.hostname] = nil
        }
        var worker = workers[hostname] ?? WorkerActivity(hostname: hostname, lastSeen: now)
        let fields = event.fields
        worker.lastSeen = max(worker.lastSeen, now)
        worker.software = fields["sw_ident"]?.string ?? worker.software
        worker.pid = fields["pid"]?.int.flatMap { (1...Int64(Int32.max)).contains($0) ? Int($0) : nil } ?? worker.pid
        worker.active = Self.nonNegative(fields["active"]) ?? worker.active
        worker.processed = Self.nonNegative(fields["processed"]) ?? worker.processed
        if let freq = fields["freq"]?.double, freq.isFinite, (0.1...3600).contains(freq) { worker.heartbeatInterval = freq }
        if let loads = fields["loadavg"]?.array?.compactMap(\.double), loads.count == 3, loads.allSatisfy(\.isFinite) {
            worker.loadAverage = loads
        }
        worker.state = event.type == "worker-offline" ? .offline : .online
        workers[hostname] = worker
        if event.type == "worker-offline" {
            // Whatever it was running ended with it; its end events will not come.
            for (id, record) in tasks where record.hostname == hostname { tasks[id] = nil }
        }
    }

    // MARK: Tasks

    private mutating func task(_ type: String, id: String, _ event: CeleryEvent, at now: Date) {
        let second = Self.second(now)
        switch type {
        case "task-received":
            let name = event.fields["name"]?.string
            track(id, name: name, hostname: event.hostname)
            if let name { count(name, .received, second: second) }
        case "task-started":
            track(id, name: nil, hostname: event.hostname)
            tasks[id]?.startedAt = now
        case "task-succeeded", "task-failed", "task-retried":
            let record = tasks.removeValue(forKey: id)
            let kind: TaskCounts.Kind = type == "task-succeeded" ? .succeeded : type == "task-failed" ? .failed : .retried
            // Ends carry only the id; the name is the received event's (unknown if it was missed).
            if let name = record?.name ?? event.fields["name"]?.string {
                count(name, kind, second: second, runtime: event.fields["runtime"]?.double)
            }
        case "task-revoked", "task-rejected":
            tasks[id] = nil
        default:
            break
        }
    }

    private mutating func track(_ id: String, name: String?, hostname: String) {
        if var record = tasks[id] {
            record.hostname = hostname
            if let name { record.name = name }
            tasks[id] = record
            return
        }
        while tasks.count >= limits.tasks, let oldest = taskOrder.popFirst() { tasks[oldest] = nil }
        tasks[id] = TaskRecord(name: name, hostname: hostname)
        taskOrder.append(id)
        // Finished ids stay in the order until it is twice the limit: then it is rebuilt.
        if taskOrder.count > 2 * limits.tasks { taskOrder = Deque(taskOrder.filter { tasks[$0] != nil }) }
    }

    private mutating func count(_ name: String, _ kind: TaskCounts.Kind, second: Int64, runtime: Double? = nil) {
        if counts[name] == nil, counts.count >= limits.taskNames {
            for (known, window) in counts where window.totals(at: second).isEmpty { counts[known] = nil }
            guard counts.count < limits.taskNames else { return }
        }
        counts[name, default: TaskCountWindow(window: window)].record(kind, second: second, runtime: runtime)
    }

    /// A count an event carries: a non-negative integer that fits.
    private static func nonNegative(_ value: JSON?) -> Int? {
        value?.int.flatMap { $0 >= 0 && $0 <= Int64(Int.max) ? Int($0) : nil }
    }

    /// The whole second `date` falls in.
    static func second(_ date: Date) -> Int64 {
        let seconds = date.timeIntervalSince1970.rounded(.down)
        return seconds.isFinite && abs(seconds) < 9e18 ? Int64(seconds) : 0
    }
}
