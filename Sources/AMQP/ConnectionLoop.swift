import CRabbitMQ
import DequeModule
import IOSupport
import Logging
#if canImport(Glibc)
import Glibc
#endif

/// The I/O loop of an AMQP connection: the only code that touches its `Session`. Stepped by a
/// thread of its own, or by an `IOHost` (a worker's loop) between its other work.
///
/// One turn of the loop: take commands, write publishes and acks, read every complete frame,
/// expire deadlines; then the stepping thread `poll()`s the socket and the wake-up pipe for at
/// most a fraction of the heartbeat, so heartbeats flow however long tasks elsewhere run.
// Handed to the thread that steps it and touched only there, one step at a time, hence unchecked.
final class ConnectionLoop: SteppedIO, @unchecked Sendable {
    /// Channel for publishing (confirm mode) and consuming.
    static let mainChannel: UInt16 = 1
    /// Channel for declarations and inspections, which the broker closes on refusal.
    static let controlChannel: UInt16 = 2

    let configuration: AMQPConnection.Configuration
    private let commands: CommandQueue<Command>
    private let report: @Sendable (ConnectionState, AMQPError?, UInt64) -> Void
    private let reportLimits: @Sendable (PublishLimits) -> Void
    let logger: Logger

    var session: Session?
    var generation: UInt64 = 0
    private var endpointIndex = 0
    private var pacing: ReconnectPacing
    /// No connect before this (monotonic seconds): the backoff after a failed connect or a lost connection.
    private var reconnectAt = 0.0
    private var lastError: AMQPError?
    var closing: Completion<Void>?
    var blocked = false

    var outbox: Deque<PendingPublish> = []
    /// What one publish may carry: the frame size negotiated, the broker's largest body.
    private var limits: PublishLimits
    /// Confirms of the channel publishes go out on now.
    var confirms = ConfirmTracker()
    /// Where publishes go out: the main channel, until the broker refuses one there.
    var publishChannel = ConnectionLoop.mainChannel
    /// Whether the broker refused (nacked) a publish on `publishChannel`.
    var publishChannelRefused = false
    /// Channels publishing moved away from, oldest first, open until their confirms arrive.
    var retiring: [(channel: UInt16, confirms: ConfirmTracker)] = []
    /// Nacked publishes waiting for their next try.
    let refused: RefusedPublishes
    var acks = AckCoalescer()
    /// Settlements gathered in this turn, sent together after the commands are handled.
    var settlements: [(tag: UInt64, settlement: Settlement)] = []
    var topology: [TopologyDeclaration] = []
    var consumers: [ConsumerRegistration] = []
    /// Commands that need a live connection, held while reconnecting.
    var deferred: Deque<Command> = []
    /// Long strings of recent deliveries, reused when the same bytes come again.
    var strings = RecentStrings()

    init(configuration: AMQPConnection.Configuration, commands: CommandQueue<Command>, logger: Logger,
         reportLimits: @escaping @Sendable (PublishLimits) -> Void = { _ in },
         report: @escaping @Sendable (ConnectionState, AMQPError?, UInt64) -> Void) {
        self.configuration = configuration
        self.commands = commands
        self.logger = logger
        self.report = report
        self.reportLimits = reportLimits
        pacing = ReconnectPacing(backoff: configuration.reconnect)
        limits = PublishLimits(maxBodySize: configuration.maxBodySize)
        refused = RefusedPublishes(backoff: configuration.refusedRetry)
    }

    /// Whether the first step reported `.connecting`, and whether the last one shut down.
    private var began = false
    private var ended = false

    /// The loop on a thread of its own.
    func run() {
        while let pause = step() {
            if pause.milliseconds != 0 { commands.sleep(timeoutMilliseconds: pause.milliseconds, orReadable: pause.descriptor) }
        }
    }

    /// One step: while connected a turn, while disconnected a connect once the backoff is over,
    /// and the shutdown once closing.
    func step() -> IOPause? {
        if !began {
            began = true
            report(.connecting, nil, 0)
        }
        if closing == nil {
            if session != nil { return turn() }
            // Until the backoff is over, keep answering callers: expire what is overdue, honour close.
            let now = monotonicSeconds()
            drainWhileDisconnected(now: now)
            if closing == nil {
                if now < reconnectAt { return IOPause(descriptor: nil, milliseconds: Int32(min(250, max(1, (reconnectAt - now) * 1000)))) }
                connectOrWait()
                return .now
            }
        }
        guard !ended else { return nil }
        ended = true
        shutDown()
        return nil
    }

    func prepareToSleep() -> Bool { commands.prepareToSleep() }
    func woke() { commands.woke() }

    // MARK: Connecting

    private func connectOrWait() {
        let endpoint = configuration.endpoints[endpointIndex % configuration.endpoints.count]
        do {
            let session = try Session(endpoint: endpoint, connectionName: configuration.name, rpcTimeout: configuration.rpcTimeout)
            try session.openChannel(Self.mainChannel)
            if configuration.confirms { try session.confirmSelect(channel: Self.mainChannel) }
            try session.openChannel(Self.controlChannel)
            self.session = session
            try redeclare(on: session)
            for consumer in consumers {
                try session.qos(channel: Self.mainChannel, prefetch: consumer.options.prefetch)
                try session.consume(channel: Self.mainChannel, queue: consumer.queue, tag: consumer.tag, options: consumer.options)
            }
            generation += 1
            acks.reset()
            settlements.removeAll()
            // Not a reset of the backoff: only a connection that stays up earns that.
            pacing.connected(at: monotonicSeconds())
            limits.frameMax = session.frameMax
            reportLimits(limits)
            blocked = false
            lastError = nil
            logger.info("amqp connected", metadata: ["broker": "\(endpoint)", "connection": "\(configuration.name)",
                                                   "heartbeat": "\(session.negotiatedHeartbeat)"])
            report(.connected, nil, generation)
            // Everything unconfirmed on the dead channels goes out again, oldest first.
            for pending in takeUnconfirmed().reversed() { outbox.prepend(pending) }
            let held = deferred
            deferred.removeAll()
            for command in held { handle(command) }
        } catch let error as AMQPError {
            session = nil
            fail(error, endpoint: endpoint)
        } catch {
            session = nil
            fail(AMQPError(.connectionFailed, "\(error)"), endpoint: endpoint)
        }
    }

    private func redeclare(on session: Session) throws {
        for declaration in topology {
            do {
                try session.declare(declaration, channel: Self.controlChannel)
            } catch let error as AMQPError where error.code == .preconditionFailed {
                // Someone re-declared it differently since; keep going with what exists.
                logger.warning("amqp redeclare refused", metadata: ["reason": "\(error.message)"])
                try session.openChannel(Self.controlChannel)
            }
        }
    }

    private func fail(_ error: AMQPError, endpoint: AMQPEndpoint) {
        lastError = error
        endpointIndex += 1
        let now = monotonicSeconds()
        let delay = pacing.failed(at: now)
        reconnectAt = now + delay
        let attempt = pacing.attempt
        if attempt == 1 || attempt % 10 == 0 {
            logger.warning("amqp connection failed", metadata: ["broker": "\(endpoint)", "reason": "\(error.message)",
                                                               "attempt": "\(attempt)", "retry_in": "\(delay)"])
        }
        report(.reconnecting(attempt: attempt, retryIn: delay, reason: error.message), error, generation)
    }

    private func drainWhileDisconnected(now: Double) {
        for command in commands.takeAll() {
            switch command {
            case let .close(c): closing = c
            case let .publish(items): outbox.append(contentsOf: items)
            case .settle: break  // the broker requeues deliveries of a dead connection by itself
            default: deferred.append(command)
            }
        }
        expire(now: now)
    }

    // MARK: One turn while connected

    private func turn() -> IOPause {
        guard let session else { return .now }
        do {
            for command in commands.takeAll() {
                // Settlements wait for the end of the turn, but never overtake a later command
                // (an inspect or a close must see them applied).
                if case .settle = command {} else if let current = self.session { try sendSettlements(current, flush: true) }
                handle(command)
            }
            if let current = self.session { try sendSettlements(current, flush: closing != nil) }
            guard self.session != nil, closing == nil else { return .now }
            if let due = try takeDueRefusals(session) { for pending in due.reversed() { outbox.prepend(pending) } }
            try flushOutbox(session)
            var frames = 0
            // Frames held back inside a message's content are handled in this turn however many
            // came: they point into rabbitmq-c's pools, which the end of the turn recycles.
            while frames < 2048 || !session.heldFrames.isEmpty, let frame = try session.nextFrame() {
                try handle(frame: frame, session: session)
                frames += 1
            }
            session.releaseBuffers()
            try closeSettledChannels(session)
            expire(now: monotonicSeconds())
            if session.hasBufferedInput || !commands.isEmpty { return .now }
            return pause(for: session)
        } catch let error as AMQPError {
            lose(error)
        } catch {
            lose(AMQPError(.connectionLost, "\(error)"))
        }
        return .now
    }

    /// Until the socket is readable, for at most a fraction of the heartbeat.
    private func pause(for session: Session) -> IOPause {
        let heartbeat = session.negotiatedHeartbeat
        var tick = heartbeat > 0 ? min(250, Int32(heartbeat * 1000 / 4)) : 250
        // Wake in time to send the acknowledgements held back and the refused publishes due.
        if let deadline = acks.nextDeadline { tick = Self.tick(tick, until: deadline) }
        if let deadline = refused.retryAt { tick = Self.tick(tick, until: deadline) }
        return IOPause(descriptor: session.socketDescriptor, milliseconds: tick)
    }

    private func waitForInput(_ session: Session) {
        let pause = pause(for: session)
        commands.sleep(timeoutMilliseconds: pause.milliseconds, orReadable: pause.descriptor)
    }

    /// `tick` milliseconds, or fewer to wake at `deadline` (monotonic seconds).
    private static func tick(_ tick: Int32, until deadline: Double) -> Int32 {
        Int32(max(0, min(Double(tick), ((deadline - monotonicSeconds()) * 1000).rounded(.up))))
    }

    func lose(_ error: AMQPError) {
        let now = monotonicSeconds()
        // Backed off like a failed connect: a connection that dies right after each connect
        // must not be reconnected in a tight loop.
        let delay = pacing.failed(at: now)
        reconnectAt = now + delay
        logger.warning("amqp connection lost", metadata: ["connection": "\(configuration.name)", "reason": "\(error.message)",
                                                         "attempt": "\(pacing.attempt)", "retry_in": "\(delay)"])
        session?.abandon()
        session = nil
        lastError = error
        // The next try goes to the next broker of the list: a node that closed its connections
        // (stopping, or cut off) is the least likely to take a new one.
        endpointIndex += 1
        for pending in takeUnconfirmed().reversed() { outbox.prepend(pending) }
        report(.reconnecting(attempt: pacing.attempt, retryIn: delay, reason: error.message), error, generation)
    }

    /// Fails the message a broker's publish refusal on `channel` was about, so it is not sent
    /// again, and remembers a body limit the broker stated.
    func refuse(_ refusal: PublishRefusal, channel: UInt16) {
        if let limit = refusal.maxBodySize, limit < limits.maxBodySize {
            limits.maxBodySize = limit
            reportLimits(limits)
        }
        if confirmTracker(for: channel)?.refuse(refusal.error, where: refusal.matches) == true {
            logger.warning("amqp publish refused by broker", metadata: ["connection": "\(configuration.name)",
                                                                       "reason": "\(refusal.error.message)"])
        }
    }

    /// Sends this turn's acknowledgements and rejections in as few frames as possible; with
    /// `flush`, nothing is held back.
    private func sendSettlements(_ session: Session, flush: Bool = false) throws {
        guard !settlements.isEmpty || acks.hasHeld else { return }
        let now = monotonicSeconds()
        var plan = acks.settle(settlements, now: now)
        settlements.removeAll(keepingCapacity: true)
        if flush {
            let rest = acks.flush(now: now)
            plan.acknowledgeThrough = rest.acknowledgeThrough ?? plan.acknowledgeThrough
            plan.individually += rest.individually
        }
        // Single settlements first: a rejection inside the run must reach the broker before the
        // multiple ack that would otherwise acknowledge it.
        for (tag, settlement) in plan.individually {
            switch settlement {
            case .ack: try session.ack(channel: Self.mainChannel, tag: tag)
            case let .reject(requeue): try session.reject(channel: Self.mainChannel, tag: tag, requeue: requeue)
            }
        }
        if let through = plan.acknowledgeThrough {
            try session.ack(channel: Self.mainChannel, tag: through, multiple: true)
        }
    }

    private func flushOutbox(_ session: Session) throws {
        guard !blocked else { return }
        while let pending = outbox.first {
            do {
                try session.publish(pending.message, channel: publishChannel, limits: limits)
            } catch let error as AMQPError where error.code == .messageTooLarge || error.code == .invalidMessage {
                // About this message, not the connection: it fails alone and is never tried again.
                outbox.removeFirst()
                pending.finish(.failure(error))
                logger.debug("amqp publish refused", metadata: ["connection": "\(configuration.name)", "reason": "\(error.message)"])
                // rabbitmq-c found it unencodable only after writing half of it: the rest go out on a new connection.
                guard session.isOpen else { throw AMQPError(.connectionLost, "\(error.message)") }
                continue
            }
            outbox.removeFirst()
            if configuration.confirms {
                confirms.sent(pending)
            } else {
                pending.finish(.success(()))
            }
        }
    }
    // MARK: Deadlines and shutdown

    private func expire(now: Double) {
        expireConfirms(now: now)
        let reason: AMQPError
        if blocked {
            reason = AMQPError(.blocked, "broker is blocking publishers (memory or disk alarm); message not accepted in time")
        } else {
            reason = AMQPError(.connectionLost, "not connected to broker: \(lastError?.message ?? "connecting")")
        }
        while let first = outbox.first, first.deadline <= now {
            outbox.removeFirst()
            first.finish(.failure(reason))
        }
        if !deferred.isEmpty {
            var kept: Deque<Command> = []
            for command in deferred {
                if let deadline = command.deadline, deadline <= now { command.fail(reason) } else { kept.append(command) }
            }
            deferred = kept
        }
    }

    private func shutDown() {
        let error = AMQPError(.closed, "connection \(configuration.name) closed")
        if let session, configuration.confirms, hasUnconfirmed {
            // Give outstanding confirms a short grace so a clean close loses no acknowledged publish.
            let until = monotonicSeconds() + 2
            while hasUnconfirmed, monotonicSeconds() < until {
                do {
                    if let frame = try session.nextFrame() { try handle(frame: frame, session: session) } else { waitForInput(session) }
                    session.releaseBuffers()
                } catch { break }
            }
        }
        for pending in takeUnconfirmed() { pending.finish(.failure(error)) }
        refused.failAll(error)
        for pending in outbox { pending.finish(.failure(error)) }
        outbox.removeAll()
        for command in deferred { command.fail(error) }
        for command in commands.close() {
            if case let .close(completion) = command { completion.succeed(()) } else { command.fail(error) }
        }
        session = nil
        report(.closed, nil, generation)
        closing?.succeed(())
    }
}

extension TopologyDeclaration {
    var acceptsExisting: Bool {
        switch self {
        case let .queue(q): return q.acceptExisting
        case let .exchange(e): return e.acceptExisting
        default: return false
        }
    }
}
