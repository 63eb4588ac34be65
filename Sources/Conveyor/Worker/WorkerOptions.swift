import Foundation

/// How a worker runs.
///
/// Every field is a public `var`. The two the initialiser has always clamped,
/// `maxUnfinishedRuns` and `heartbeatInterval`, stay clamped when set later; the others are
/// checked by `validate()`, which `Worker.init` calls, against the range each one documents.
public struct WorkerOptions: Sendable {
    /// Concurrencies accepted: no worker can run more tasks than the broker lets it hold.
    public static let concurrencies = 1...65_535
    /// Prefetches accepted (`basic.qos` carries a 16-bit count; 0 would mean unlimited).
    public static let prefetches = 1...65_535
    /// Grace periods and store-retry windows accepted, seconds: 0 up to a day.
    public static let waits = 0.0...86_400.0
    /// What `maxUnfinishedRuns` is clamped to.
    public static let unfinishedRunLimits = 1...1_000_000
    /// Loops accepted (`loops`).
    public static let loopCounts = 1...64
    /// What `heartbeatInterval` is clamped to, seconds.
    public static let heartbeatIntervals = 1.0...3600.0

    /// Queues to consume; the configuration's default queue when empty.
    public var queues: [String]
    /// Tasks run at the same time, in `WorkerOptions.concurrencies`.
    public var concurrency: Int
    /// Unacknowledged messages held per queue (`basic.qos`), in `WorkerOptions.prefetches`;
    /// defaults to four times the concurrency (at most 65,535), Celery's
    /// `worker_prefetch_multiplier`. Results are stored and acknowledged in batches, so fewer
    /// starve the pipeline; for long tasks shared by several workers, set it to the concurrency
    /// so no worker holds tasks another could start.
    public var prefetch: Int?
    /// Event loops, each a thread with a consumer connection and a Redis connection of its own,
    /// in `WorkerOptions.loopCounts` and at most the prefetch. A task's life (delivery,
    /// admission, run, result, ack) stays on one loop; tasks of all loops share `concurrency`,
    /// and the prefetch is split between them. One loop suits most workers: on a machine with
    /// cores to spare, more let large payloads (parsing, copying, writing results) proceed on
    /// several cores at once.
    public var loops: Int = 1
    /// The node name shown to operators (`conveyor@host`).
    public var hostname: String
    /// How long a warm shutdown lets running tasks finish before cancelling them, seconds, in
    /// `WorkerOptions.waits`.
    public var shutdownGracePeriod: Double
    /// Store STARTED when a task starts (also the atomic "not already done" check).
    public var trackStarted: Bool
    /// How long a finished task keeps trying to store its result while Redis is down before the
    /// message is requeued (so it runs again later) instead of being acknowledged without one;
    /// seconds, in `WorkerOptions.waits`.
    public var storeRetryWindow: Double
    /// Register `conveyor.crash` style tasks that may end the process.
    public var allowCrash: Bool
    /// Runs of one task that may start and never finish (the worker died each time) before its
    /// message is dead-lettered as poison instead of killing worker after worker. Clamped to
    /// `WorkerOptions.unfinishedRunLimits`.
    public var maxUnfinishedRuns: Int {
        didSet { maxUnfinishedRuns = WorkerOptions.clampedUnfinishedRuns(maxUnfinishedRuns) }
    }
    /// How long redelivery counts are kept, seconds, in `ConveyorConfiguration.ttls`.
    public var startCountTTL: Int
    /// Seconds between heartbeats while nothing changes (one follows any change within half a
    /// second). Clamped to `WorkerOptions.heartbeatIntervals`; NaN or infinity is the default, 5.
    public var heartbeatInterval: Double {
        didSet { heartbeatInterval = WorkerOptions.clampedHeartbeat(heartbeatInterval) }
    }
    /// The longest a task held back by a rate limit waits before it is checked again, seconds,
    /// in `WorkerOptions.rateLimitWaits`: a limit lifted or raised reaches tasks already waiting
    /// within this. Shorter costs more re-checks while a long backlog waits.
    public var rateLimitMaxWait: Double = 300
    /// Send Celery's task events (`task-received`, `task-started`, …) to the `celeryev`
    /// exchange, as `celery worker -E` does; `celery control enable_events` turns them on at
    /// run time too. Worker events (`worker-online`, `-heartbeat`, `-offline`) are sent either
    /// way, as Python's workers send them.
    public var events: Bool = false
    /// A file the worker keeps its health in (`WorkerHealth` as JSON, replaced atomically on
    /// each change and every `heartbeatInterval`, removed when the worker stops), for probes
    /// such as `conveyor health`; none when nil.
    public var healthFile: String?
    /// What `rateLimitMaxWait` may be, seconds.
    public static let rateLimitWaits = 1.0...86_400.0

    /// Every parameter is the field of the same name; see each for its range.
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
        self.maxUnfinishedRuns = WorkerOptions.clampedUnfinishedRuns(maxUnfinishedRuns)
        self.startCountTTL = startCountTTL
        self.heartbeatInterval = WorkerOptions.clampedHeartbeat(heartbeatInterval)
    }

    /// `conveyor@<host name>`.
    public static var defaultHostname: String { "conveyor@\(ProcessInfo.processInfo.hostName)" }

    /// Checks every number against the range its field documents.
    /// - Throws: `ConveyorError.Code.invalidConfiguration` naming the field.
    public func validate() throws {
        func refuse(_ why: String) -> ConveyorError { ConveyorError(.invalidConfiguration, why) }
        guard Self.concurrencies.contains(concurrency) else { throw refuse("concurrency must be in 1...65535, not \(concurrency)") }
        if let prefetch, !Self.prefetches.contains(prefetch) { throw refuse("prefetch must be in 1...65535, not \(prefetch)") }
        guard Self.loopCounts.contains(loops) else { throw refuse("loops must be in 1...64, not \(loops)") }
        // Each loop's consumer holds at least one message.
        guard loops <= Int(effectivePrefetch) else { throw refuse("loops (\(loops)) must not exceed the prefetch (\(effectivePrefetch))") }
        guard Self.waits.contains(shutdownGracePeriod) else {
            throw refuse("shutdownGracePeriod must be seconds in 0...86400, not \(shutdownGracePeriod)")
        }
        guard Self.waits.contains(storeRetryWindow) else { throw refuse("storeRetryWindow must be seconds in 0...86400, not \(storeRetryWindow)") }
        guard Self.rateLimitWaits.contains(rateLimitMaxWait) else {
            throw refuse("rateLimitMaxWait must be seconds in 1...86400, not \(rateLimitMaxWait)")
        }
        if healthFile?.isEmpty == true { throw refuse("healthFile must be a path, not empty") }
        guard ConveyorConfiguration.ttls.contains(startCountTTL) else {
            throw refuse("startCountTTL must be seconds in 1...\(ConveyorConfiguration.ttls.upperBound), not \(startCountTTL)")
        }
    }

    /// The prefetch actually used.
    var effectivePrefetch: UInt16 { UInt16(clamping: prefetch ?? max(1, min(concurrency, Self.prefetches.upperBound) * 4)) }

    private static func clampedUnfinishedRuns(_ runs: Int) -> Int {
        min(max(runs, unfinishedRunLimits.lowerBound), unfinishedRunLimits.upperBound)
    }

    private static func clampedHeartbeat(_ seconds: Double) -> Double {
        seconds.isFinite ? min(max(seconds, heartbeatIntervals.lowerBound), heartbeatIntervals.upperBound) : 5
    }
}

/// How to stop a worker.
public enum ShutdownMode: Sendable {
    /// Stop consuming, let running tasks finish within the grace period, requeue the rest.
    case warm
    /// Cancel running tasks now and requeue what did not finish.
    case cold
}
