import Foundation

/// `FleetActivity` at one moment.
public struct ActivitySnapshot: Sendable {
    /// Workers heard from, by name.
    public var workers: [WorkerActivity]
    /// Tasks started and not finished, longest-running first.
    public var running: [RunningTask]
    /// Per-task counts over the last `window` seconds, by name.
    public var tasks: [TaskRates]
    /// Seconds the counts cover.
    public var window: Int
}

/// A worker as its events describe it.
public struct WorkerActivity: Sendable, Equatable {
    /// Whether the worker is there.
    public enum State: String, Sendable {
        /// Heard from within two heartbeat intervals.
        case online
        /// Said `worker-offline`.
        case offline
        /// Silent for more than two heartbeat intervals (Celery's `heartbeat_expires`).
        case lost
    }

    /// The node name.
    public var hostname: String
    /// When it was last heard from, on the monitor's clock.
    public var lastSeen: Date
    /// What it is: `sw_ident` (`conveyor` for Swift workers, `py-celery` for Python ones).
    public var software: String?
    /// Its process id.
    public var pid: Int?
    /// Tasks it ran at the last heartbeat (`active`).
    public var active: Int?
    /// Tasks it finished since it started (`processed`).
    public var processed: Int?
    /// Seconds between its heartbeats (`freq`).
    public var heartbeatInterval = 2.0
    /// `os.getloadavg()` at its last heartbeat.
    public var loadAverage: [Double]?
    /// As of its last event; `FleetActivity.snapshot` turns a silent one `lost`.
    public var state = State.online

    /// - Parameters:
    ///   - hostname: the node name.
    ///   - lastSeen: when it was last heard from.
    public init(hostname: String, lastSeen: Date) {
        self.hostname = hostname
        self.lastSeen = lastSeen
    }

    /// Whether it is a Conveyor (Swift) worker, by its `sw_ident`; nil when it did not say.
    public var isConveyor: Bool? { software.map { $0 == "conveyor" } }

    /// Its state at `now`: online until two heartbeat intervals pass without a word.
    public func state(at now: Date) -> State {
        guard state == .online else { return state }
        return now.timeIntervalSince(lastSeen) > heartbeatInterval * 2 ? .lost : .online
    }
}

/// A task that started and has not finished.
public struct RunningTask: Sendable, Equatable {
    /// The task id.
    public var id: String
    /// The task name; nil when its `task-received` was not seen.
    public var name: String?
    /// The worker running it.
    public var hostname: String
    /// When its `task-started` arrived, on the monitor's clock.
    public var startedAt: Date
    /// Seconds it has run so far.
    public var runtime: Double
}

/// One task name's counts over the window.
public struct TaskRates: Sendable, Equatable {
    /// The task name.
    public var name: String
    /// What happened to tasks of that name within the window.
    public var counts: TaskCounts
}
