import Foundation

/// How a worker runs.
public struct WorkerOptions: Sendable {
    /// Queues to consume; the configuration's default queue when empty.
    public var queues: [String]
    /// Tasks run at the same time.
    public var concurrency: Int
    /// Unacknowledged messages held per queue (`basic.qos`); defaults to four times the
    /// concurrency, Celery's `worker_prefetch_multiplier`. Results are stored and acknowledged in
    /// batches, so fewer starve the pipeline; for long tasks shared by several workers, set it
    /// to the concurrency so no worker holds tasks another could start.
    public var prefetch: Int?
    /// The node name shown to operators (`conveyor@host`).
    public var hostname: String
    /// How long a warm shutdown lets running tasks finish before cancelling them, seconds.
    public var shutdownGracePeriod: Double
    /// Store STARTED when a task starts (also the atomic "not already done" check).
    public var trackStarted: Bool
    /// How long a finished task keeps trying to store its result while Redis is down before the
    /// message is requeued (so it runs again later) instead of being acknowledged without one.
    public var storeRetryWindow: Double
    /// Register `conveyor.crash` style tasks that may end the process.
    public var allowCrash: Bool
    /// Runs of one task that may start and never finish (the worker died each time) before its
    /// message is dead-lettered as poison instead of killing worker after worker.
    public var maxUnfinishedRuns: Int
    /// How long redelivery counts are kept, seconds.
    public var startCountTTL: Int
    /// Seconds between heartbeats while nothing changes (one follows any change within half a second).
    public var heartbeatInterval: Double

    public init(queues: [String] = [], concurrency: Int = 16, prefetch: Int? = nil, hostname: String = WorkerOptions.defaultHostname,
                shutdownGracePeriod: Double = 30, trackStarted: Bool = true, storeRetryWindow: Double = 60, allowCrash: Bool = false,
                maxUnfinishedRuns: Int = 5, startCountTTL: Int = 86_400, heartbeatInterval: Double = 5) {
        self.queues = queues
        self.concurrency = concurrency
        self.prefetch = prefetch
        self.hostname = hostname
        self.shutdownGracePeriod = shutdownGracePeriod
        self.trackStarted = trackStarted
        self.storeRetryWindow = storeRetryWindow
        self.allowCrash = allowCrash
        self.maxUnfinishedRuns = max(1, maxUnfinishedRuns)
        self.startCountTTL = startCountTTL
        self.heartbeatInterval = heartbeatInterval.isFinite ? min(max(1, heartbeatInterval), 3600) : 5
    }

    /// `conveyor@<host name>`.
    public static var defaultHostname: String { "conveyor@\(ProcessInfo.processInfo.hostName)" }

    /// The prefetch actually used.
    var effectivePrefetch: UInt16 { UInt16(clamping: prefetch ?? max(1, concurrency * 4)) }
}

/// How to stop a worker.
public enum ShutdownMode: Sendable {
    /// Stop consuming, let running tasks finish within the grace period, requeue the rest.
    case warm
    /// Cancel running tasks now and requeue what did not finish.
    case cold
}
