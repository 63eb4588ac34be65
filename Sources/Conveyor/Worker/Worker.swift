import AMQP
import Foundation
import IOSupport
import Logging
import Redis
import Synchronization

/// Runs tasks from RabbitMQ: consumes work queues with a prefetch, runs up to `concurrency`
/// tasks at once, stores states in Redis in Celery's format, and acknowledges each message only
/// after its outcome (result, retry or dead letter) is durably recorded.
///
/// ```swift
/// var registry = TaskRegistry()
/// registry.register("conveyor.add") { ctx in .int(try ctx.argument(0, "x", as: Int64.self) + ctx.argument(1, "y", as: Int64.self)) }
/// let worker = try Worker(registry: registry)
/// try await worker.run()          // until shutdown(.warm) or shutdown(.cold)
/// ```
public final class Worker: Sendable, ResultBatchStore {
    enum Mode: Sendable, Equatable {
        case starting, running, draining, stopping, stopped
    }

    private struct Control {
        var mode: Mode = .starting
        var started = false
        /// Runs in progress with their task ids (terminate looks ids up here: it is rare, and
        /// at most `concurrency` runs are listed).
        var running: [UInt64: (task: Task<Void, Never>, runnable: Runnable, startedAt: Date)] = [:]
        var nextRun: UInt64 = 0
        var stopRequested: ShutdownMode?
    }

    public let configuration: ConveyorConfiguration
    public let options: WorkerOptions
    public let registry: TaskRegistry
    let client: ConveyorClient
    /// The loops' consumer connections, settling each delivery on the one it came from.
    let consumer: WorkerConsumers
    let logger: Logger
    /// Lent to each per-task log line (`TaskExecution.swift`).
    let lineMetadata = LentMetadata()
    let stats = WorkerStats()
    /// Counters, timers and gauges through swift-metrics (`Worker+Metrics.swift`).
    let metrics: WorkerMetrics
    let slots: Slots
    let queues: [WorkQueue]
    /// The loops the hot path's tasks prefer, each with its connections, deliveries waiting for
    /// a slot and results on their way to Redis (`WorkerLanes.swift`).
    var lanes: [WorkerLane] { consumer.lanes }
    /// Rate limits in code and set at run time (`Worker+RateLimits.swift`).
    let rateLimits: RateLimitGate
    /// Celery's remote control and events, on their own connection (`Control/`).
    let pidbox: Pidbox
    let remote: RemoteControlState
    /// The STARTED state's result, the same for every run in this process (`startedMeta`).
    let startedResult: JSON
    /// Most deliveries prepared and admitted together.
    static let maxBatch = 64
    /// What ETAs and expiry are checked against, and near ETAs waited for with.
    let clock: any WallClock
    /// How long a cold shutdown still waits for deliveries in hand (a dead letter being
    /// published, a result being stored) before the worker stops without them; closing the
    /// connections then hands their messages back to the broker.
    static let abandonAfter = 1.5
    /// How long stopping waits for the connections to close. A broker that stopped answering
    /// (or an I/O thread blocked in a connect) must not hold the process: the broker hands back
    /// what was not acknowledged when the socket goes, as after a crash. With `abandonAfter`,
    /// a shutdown ends within the grace period plus 5 s whatever a publish is doing.
    static let closeWithin = 2.0
    private let control = Mutex(Control())
    /// Whether the fleet's control channel is subscribed (revoke with terminate reaches this worker).
    let controlListening = Mutex(false)
    /// Settled with true when the intake and everything in hand finished, with false once a
    /// cold shutdown has waited `abandonAfter`: whichever comes first ends `run`'s drain.
    private let drainRace = FirstOutcome<Bool, Never>()

    /// - Parameters:
    ///   - configuration: broker and result store; defaults to the environment.
    ///   - options: queues, concurrency, names and limits.
    ///   - registry: the tasks this worker runs.
    /// - Throws: `ConveyorError.Code.invalidConfiguration` when the configuration, the options or
    ///   a task's defaults fail `validate()`, or a queue name is not usable.
    public convenience init(configuration: ConveyorConfiguration = .fromEnvironment(), options: WorkerOptions = .init(),
                            registry: TaskRegistry, logger: Logger = Logger(label: "conveyor.worker")) throws {
        try self.init(configuration: configuration, options: options, registry: registry, logger: logger, clock: SystemWallClock())
    }

    init(configuration: ConveyorConfiguration, options: WorkerOptions, registry: TaskRegistry, logger: Logger,
         clock: any WallClock) throws {
        try configuration.validate()
        // Public vars: checked here, where they are used, not only by the initialisers that set them.
        try options.validate()
        try registry.validate()
        let names = options.queues.isEmpty ? [configuration.defaultQueue] : options.queues
        for name in names { try WorkQueue.validate(name: name) }
        self.configuration = configuration
        self.clock = clock
        self.options = options
        startedResult = ["pid": .int(Int64(processIdentifier)), "hostname": .string(options.hostname)]
        self.registry = registry
        var logger = logger
        logger[metadataKey: "worker"] = "\(options.hostname)"
        self.logger = logger
        queues = names.map { WorkQueue(name: $0, type: configuration.queueType, maxPriority: configuration.maxPriority) }
        slots = Slots(options.concurrency)
        let loop = try LoopExecutor(name: "worker loop")
        // Its Redis connection is stepped by the first loop too: admissions and results are
        // written and answered on the thread that runs the tasks.
        client = try ConveyorClient(configuration: configuration, name: "\(options.hostname) publisher", logger: logger, redisHost: loop)
        rateLimits = RateLimitGate(registry: registry, client: client)
        pidbox = try Pidbox(nodename: options.hostname, endpoints: try configuration.brokerEndpoints(), logger: logger)
        remote = RemoteControlState(eventsEnabled: options.events)
        // Stepped by the loop: a delivery resumes the intake on the same thread, and acks go out
        // on the loop's next step.
        let first = try AMQPConnection(
            configuration: .init(endpoints: try configuration.brokerEndpoints(), name: "\(options.hostname) consumer", confirms: false),
            logger: logger, host: loop)
        let prefetch = options.effectivePrefetch
        var lanes = [WorkerLane(loop: loop, client: client, consumer: first,
                                prefetch: WorkerLane.prefetch(prefetch, lane: 0, of: options.loops))]
        for index in 1..<options.loops {
            lanes.append(try WorkerLane(index: index, configuration: configuration, hostname: options.hostname,
                                        prefetch: WorkerLane.prefetch(prefetch, lane: index, of: options.loops), logger: logger))
        }
        consumer = WorkerConsumers(lanes: lanes)
        metrics = WorkerMetrics(registered: registry.names)
        observeConnectionsForMetrics()
    }

    /// Connects (retrying with backoff while the servers are down), declares the queues, then
    /// consumes until `shutdown` is called and the shutdown completes.
    public func run() async throws {
        let first = control.withLock { c -> Bool in
            defer { c.started = true }
            return !c.started
        }
        guard first else { throw ConveyorError(.closed, "worker already ran") }
        for lane in lanes { lane.results.storeWith(self) }
        defer { for lane in lanes { lane.loop.stop() } }
        consumer.start()
        let healthFile = startHealthFile()
        defer { healthFile?.stop() }
        try await prepareTopology()
        if control.withLock({ $0.stopRequested != nil }) {
            await finish()
            return
        }
        for queue in queues {
            remote.setConsumed(queue.name, tags: try await consumer.consume(queue: queue.name, timeout: .infinity))
        }
        control.withLock { $0.mode = .running }
        logger.info("worker ready", metadata: [
            "queues": "\(queues.map(\.name).joined(separator: ","))", "concurrency": "\(options.concurrency)",
            "prefetch": "\(options.effectivePrefetch)", "loops": "\(lanes.count)", "tasks": "\(registry.names.count)",
        ])
        let heartbeat = Task { await self.heartbeatLoop() }
        let limitsRefresh = Task { await self.refreshRateLimits() }
        let gauges = Task { await self.metricsLoop() }
        let remoteControl = startRemoteControl()
        // Not awaited: intake must not wait for Redis. The subscriber keeps trying by itself.
        let controlListener = listenForControl()
        await drainWithinBound()
        heartbeat.cancel()
        limitsRefresh.cancel()
        gauges.cancel()
        await stopRemoteControl(remoteControl)
        // Before finish() deletes the key, so a late beat cannot bring it back.
        await heartbeat.value
        await controlListener?.close()
        await finishWithinBound()
    }

    /// Declares the delay cascade, work queues and dead-letter queues, retrying while the broker
    /// is down; remembered so they are declared again after reconnects.
    private func prepareTopology() async throws {
        var declarations = DelayedDelivery.declarations(queueType: configuration.queueType)
        for queue in queues { declarations += queue.declarations + queue.deadLetterDeclarations }
        var attempt = 0
        while control.withLock({ $0.stopRequested == nil }) {
            do {
                try await consumer.declare(declarations, timeout: 5)
                return
            } catch let error as AMQPError where error.replyCode != nil {
                throw ConveyorError(.invalidConfiguration, "broker refused the worker's queues: \(error.message)")
            } catch {
                attempt += 1
                if attempt == 1 || attempt % 12 == 0 {
                    logger.warning("waiting for broker", metadata: ["reason": "\(error)"])
                }
                try? await Task.sleep(for: .seconds(1))
            }
        }
    }

    /// A lane's intake: waits for a delivery and then a free slot, takes whatever else waits (up
    /// to the free slots) and prepares and admits them together; each runs in its own slot. A
    /// lane with nothing to do holds no slot, so slots go to whichever lane has work. Ends once
    /// the worker drains: what waits then goes back to the queue after the consumers are
    /// cancelled (`shutdown`), not before, or the broker would deliver it straight back here.
    private func intake(_ lane: WorkerLane) async {
        while await lane.inbox.waitForDelivery() {
            await slots.acquire()
            guard control.withLock({ $0.mode }) == .running else { return slots.release() }
            var batch: [Delivery] = []
            repeat {
                // Only this intake and a drain's requeue take from the inbox.
                guard let delivery = lane.inbox.poll() else {
                    slots.release()
                    break
                }
                batch.append(delivery)
            } while batch.count < Self.maxBatch && slots.tryAcquire()
            if !batch.isEmpty { Task(executorPreference: lane.loop) { await self.handle(batch) } }
        }
    }

    /// Runs the intake to its end and waits for every slot and pending result, but no longer
    /// than `abandonAfter` into a cold shutdown: a delivery stuck publishing or storing must
    /// not keep the process alive past its grace period.
    private func drainWithinBound() async {
        let race = drainRace
        let lanes = self.lanes
        Task(executorPreference: lanes[0].loop) {
            await withTaskGroup(of: Void.self) { group in
                for lane in lanes { group.addTask(executorPreference: lane.loop) { await self.intake(lane) } }
            }
            await self.slots.drained()
            await self.rateLimits.deferring.drained()
            for lane in lanes { await lane.results.drained() }
            race.settle(.success(true))
        }
        let finished = await withCheckedContinuation { race.attach($0) }
        if !finished {
            logger.warning("shutdown: stopped waiting for deliveries still publishing or storing; the broker delivers them again",
                           metadata: ["waited": "\(Self.abandonAfter)"])
        }
    }

    /// `finish`, but no longer than `closeWithin`.
    private func finishWithinBound() async {
        let race = FirstOutcome<Bool, Never>()
        Task {
            await self.finish()
            race.settle(.success(true))
        }
        let timer = Task {
            try? await Task.sleep(for: .sleeping(seconds: Self.closeWithin))
            race.settle(.success(false))
        }
        let closed = await withCheckedContinuation { race.attach($0) }
        timer.cancel()
        if !closed {
            logger.warning("shutdown: connections did not close in time; the broker requeues what was not acknowledged",
                           metadata: ["waited": "\(Self.closeWithin)"])
        }
    }

    /// Prepares a batch at once, then admits its runnable tasks together and starts each one.
    /// A delivery that has to wait (a near ETA) or do I/O of its own (a dead letter, the delay
    /// cascade) does so on its own, so no delivery's wait holds up the rest of its batch. Every
    /// delivery holds a slot until it is handled.
    func handle(_ batch: [Delivery]) async {
        var runnables: [Runnable] = []
        for delivery in batch {
            if let runnable = dispatch(prepare(delivery)) { runnables.append(runnable) }
        }
        await admitAndStart(runnables)
    }

    /// Starts whatever a prepared delivery needs beyond admission on its own.
    /// - Returns: the runnable task, for its batch to admit.
    private func dispatch(_ preparation: Preparation) -> Runnable? {
        switch preparation {
        case let .runnable(runnable):
            return runnable
        case let .settle(work):
            Task {
                await work()
                self.slots.release()
            }
        case let .due(message, delivery, eta):
            remote.hold(message, delivery: delivery, eta: eta)
            Task {
                try? await self.clock.sleep(until: eta)
                self.remote.release(message.id)
                if let runnable = self.dispatch(self.resolve(message, delivery: delivery)) { await self.admitAndStart([runnable]) }
            }
        }
        return nil
    }

    /// Runs one task in a registered Swift task (so cold shutdown and terminate can cancel it),
    /// releasing its slot at the end.
    func start(_ runnable: Runnable, admission: ResultStore.Admission) {
        control.withLock { c in
            c.nextRun += 1
            let id = c.nextRun
            // Created under the lock, so it is registered before it can unregister itself.
            let task = Task(executorPreference: consumer.lane(of: runnable.delivery).loop) {
                await self.run(runnable, admission: admission)
                _ = self.control.withLock { $0.running.removeValue(forKey: id) }
                self.slots.release()
            }
            c.running[id] = (task, runnable, Date())
            if c.mode == .stopping { task.cancel() }
        }
    }

    /// Stops the worker. `.warm`: stop consuming, let running tasks finish within the grace
    /// period, then cancel them; unstarted prefetched messages are requeued. `.cold`: cancel
    /// running tasks now. Calling again with `.cold` escalates a warm shutdown.
    public func shutdown(_ mode: ShutdownMode = .warm) {
        let (previous, running) = control.withLock { c -> (ShutdownMode?, [Task<Void, Never>]) in
            let previous = c.stopRequested
            if previous == nil || mode == .cold { c.stopRequested = mode }
            if c.mode == .running || c.mode == .starting { c.mode = .draining }
            if mode == .cold { c.mode = .stopping }
            return (previous, mode == .cold ? c.running.values.map(\.task) : [])
        }
        if mode == .cold {
            logger.warning("cold shutdown: cancelling running tasks", metadata: ["running": "\(running.count)"])
            running.forEach { $0.cancel() }
            if previous != .cold {
                let race = drainRace
                Task {
                    try? await Task.sleep(for: .sleeping(seconds: Self.abandonAfter))
                    race.settle(.success(false))
                }
            }
        }
        guard previous == nil else { return }
        metrics.draining.record(1)
        logger.info("warm shutdown: no new tasks; waiting for running ones", metadata: [
            "running": "\(runningCount)", "grace_period": "\(options.shutdownGracePeriod)",
        ])
        Task {
            try? await self.consumer.cancelConsumers(timeout: 10)
            let requeued = self.consumer.finishAndRequeueWaiting()
            for _ in 0..<requeued { self.stats.record(\.requeued) }
            if requeued > 0 {
                self.logger.info("warm shutdown: requeued deliveries waiting for a slot", metadata: ["count": "\(requeued)"])
            }
        }
        // Counted from the request, not from the consumers' cancel, which waits for a broker
        // that may be gone.
        Task {
            try? await Task.sleep(for: .sleeping(seconds: self.options.shutdownGracePeriod))
            if self.control.withLock({ $0.mode }) != .stopped { self.shutdown(.cold) }
        }
    }

    /// Cancels the runs of `taskIds` on this worker (a revoke with terminate). Their
    /// subprocesses get SIGTERM; they are stored as REVOKED.
    /// - Returns: how many runs were cancelled here.
    @discardableResult
    public func terminate(_ taskIds: [String]) -> Int {
        let wanted = Set(taskIds)
        let tasks = control.withLock { c in c.running.values.filter { wanted.contains($0.runnable.message.id) }.map(\.task) }
        tasks.forEach { $0.cancel() }
        if !tasks.isEmpty { logger.warning("terminating tasks", metadata: ["ids": "\(taskIds.joined(separator: ","))"]) }
        return tasks.count
    }

    private func finish() async {
        control.withLock { $0.mode = .stopped }
        _ = try? await client.redis.send("DEL", WorkerHeartbeat.key(options.hostname), timeout: 2)
        // Side by side: a broker that stopped answering holds each close until its timeout.
        async let remoteControlClosed: Void = pidbox.close()
        // Closing the consumers hands every unacknowledged message back to the broker.
        await consumer.close()
        await remoteControlClosed
        await client.close()
        let s = stats.snapshot
        logger.info("worker stopped", metadata: ["succeeded": "\(s.succeeded)", "failed": "\(s.failed)",
                                                 "dead_lettered": "\(s.deadLettered)", "requeued": "\(s.requeued)"])
    }

    var isStopping: Bool { control.withLock { $0.mode == .stopping } }

    /// Whether a shutdown was asked for (the worker takes no new tasks).
    var isShuttingDown: Bool { control.withLock { $0.stopRequested != nil } }

    /// Task bodies running now (what operators see as active). Not `slots`: the intake holds one
    /// while it waits for the next delivery.
    var runningCount: Int { control.withLock { $0.running.count } }

    /// Task bodies running now with when each started, for `inspect active`.
    var activeRuns: [(runnable: Runnable, startedAt: Date)] {
        control.withLock { $0.running.values.map { ($0.runnable, $0.startedAt) } }
    }

    /// Whether the worker is consuming (declared its queues and subscribed).
    public var isReady: Bool { control.withLock { $0.mode == .running } }

    /// Whether `celery inspect` and `celery control` reach this worker: its pidbox queue is
    /// bound and consumed. Apart from `isReady`: a worker consumes tasks without it.
    public var isRemoteControlListening: Bool { remote.listening }
}
