import DequeModule
import IOSupport
import Logging
#if canImport(Glibc)
import Glibc
#endif

/// The I/O loop of a Redis connection, stepped by its own thread or by an `IOHost`.
///
/// A step takes the queued commands. Connected and with nothing in flight, it writes up to
/// `maxPipeline` of them in one burst; with a burst in flight, it reads whatever replies the
/// socket has and answers each caller once all its replies are in. Commands that arrive while
/// a burst is in flight go out in the next one, so under load many callers share a round trip.
/// Nothing waits inside a step except a connect and a write to a full socket; the wait for the
/// replies is the caller's `poll` on the socket, bounded by the burst's deadline.
// Handed to the thread that steps it and touched only there, hence unchecked.
final class RedisLoop: SteppedIO, @unchecked Sendable {
    private let configuration: RedisConnection.Configuration
    private let commands: CommandQueue<RedisConnection.Command>
    private let logger: Logger
    private let report: @Sendable (ConnectionState, RedisError?) -> Void
    private var context: Context?
    /// Not written yet.
    private var waiting: Deque<RedisConnection.Request> = []
    /// Written in the burst in flight, oldest first, with the replies read for the first one.
    private var inFlight: Deque<RedisConnection.Request> = []
    private var firstReplies: [RedisReply] = []
    /// When the burst in flight stops being waited for (monotonic seconds).
    private var burstDeadline = 0.0
    /// Requests of this burst a demoted primary refused (READONLY): none of their writes ran,
    /// so they go to the new primary once it is found instead of failing their callers.
    private var refused: [RedisConnection.Request] = []
    private var pacing: ReconnectPacing
    /// The server, or through Sentinel the current primary, on every connect.
    private var locator: PrimaryLocator
    /// No connect before this (monotonic seconds): the backoff after a failed connect or a lost
    /// connection, so a server that accepts and then drops us is not reconnected to in a loop.
    private var retryAt = 0.0
    private var lastError: RedisError?
    private var onClose: (@Sendable () -> Void)?
    private var began = false
    private var ended = false

    init(configuration: RedisConnection.Configuration, commands: CommandQueue<RedisConnection.Command>, logger: Logger,
         report: @escaping @Sendable (ConnectionState, RedisError?) -> Void) {
        self.configuration = configuration
        self.commands = commands
        self.logger = logger
        self.report = report
        pacing = ReconnectPacing(backoff: configuration.reconnect)
        locator = PrimaryLocator(endpoint: configuration.endpoint, logger: logger)
    }

    /// The loop on a thread of its own. With a burst in flight it waits on the socket alone:
    /// commands that arrive meanwhile wait for the next burst without waking the thread.
    func run() {
        while let pause = step() {
            guard pause.milliseconds != 0 else { continue }
            if let descriptor = pause.descriptor, !inFlight.isEmpty {
                var pfd = pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0)
                _ = poll(&pfd, 1, pause.milliseconds)
            } else {
                commands.sleep(timeoutMilliseconds: pause.milliseconds, orReadable: pause.descriptor)
            }
        }
    }

    /// With a burst in flight, a new command need not wake the thread: it waits for the replies.
    func prepareToSleep() -> Bool { inFlight.isEmpty ? commands.prepareToSleep() : true }
    func woke() { commands.woke() }

    func step() -> IOPause? {
        if !began {
            began = true
            report(.connecting, nil)
        }
        take()
        guard onClose == nil else {
            if !ended {
                ended = true
                close()
            }
            return nil
        }
        let now = monotonicSeconds()
        guard let context else { return stepDisconnected(now: now) }
        if !inFlight.isEmpty { return read(context, now: now) }
        // Nothing to send: wait for a command.
        if waiting.isEmpty { return IOPause(descriptor: nil, milliseconds: 250) }
        return write(context, now: now)
    }

    private func take() {
        for command in commands.takeAll() {
            switch command {
            case let .request(request): waiting.append(request)
            case let .close(done): onClose = done
            }
        }
    }

    private func close() {
        let error = RedisError(.closed, "Redis connection \(configuration.name) closed")
        for request in inFlight { request.resume(.failure(error)) }
        for request in refused + waiting { request.resume(.failure(error)) }
        inFlight.removeAll()
        refused.removeAll()
        waiting.removeAll()
        for command in commands.close() {
            switch command {
            case let .request(request): request.resume(.failure(error))
            case let .close(done): done()
            }
        }
        context = nil
        report(.closed, nil)
        onClose?()
    }

    // MARK: Connecting

    /// Until `retryAt`, keeps answering callers (fails those past their deadline); then connects
    /// for the callers still waiting. Nothing to connect for when every caller waiting has been
    /// cancelled.
    private func stepDisconnected(now: Double) -> IOPause {
        expire(now: now)
        waiting.removeAll { $0.isAbandoned() }
        if waiting.isEmpty { return IOPause(descriptor: nil, milliseconds: 250) }
        if now < retryAt { return IOPause(descriptor: nil, milliseconds: Int32(min(250, max(1, (retryAt - now) * 1000)))) }
        connect()
        return .now
    }

    private func connect() {
        do {
            context = try locator.connect(within: budget(of: waiting))
            if pacing.attempt > 0 { logger.info("redis reconnected", metadata: ["redis": "\(configuration.endpoint)"]) }
            pacing.connected(at: monotonicSeconds())
            lastError = nil
            report(.connected, nil)
        } catch {
            let error = error as? RedisError ?? RedisError(.connectionFailed, "\(error)")
            lastError = error
            let delay = backOff()
            if pacing.attempt == 1 || pacing.attempt % 10 == 0 {
                logger.warning("redis connection failed", metadata: ["redis": "\(configuration.endpoint)", "reason": "\(error.message)",
                                                                    "attempt": "\(pacing.attempt)"])
            }
            report(.reconnecting(attempt: pacing.attempt, retryIn: delay, reason: error.message), error)
        }
    }

    /// Counts a failure and sets when the next connect may start. - Returns: the wait, seconds.
    private func backOff() -> Double {
        let now = monotonicSeconds()
        let delay = pacing.failed(at: now)
        retryAt = now + delay
        return delay
    }

    /// Seconds until the last of `requests`' deadlines.
    private func budget(of requests: some Sequence<RedisConnection.Request>) -> Double {
        requests.reduce(-Double.infinity) { max($0, $1.deadline) } - monotonicSeconds()
    }

    private func expire(now: Double) {
        while let first = waiting.first, first.deadline <= now {
            waiting.removeFirst()
            first.resume(.failure(RedisError(.unavailable,
                "no connection to Redis at \(configuration.endpoint): \(lastError?.message ?? "connecting")")))
        }
    }

    // MARK: A burst

    /// Writes up to `maxPipeline` waiting commands in one burst.
    private func write(_ context: Context, now: Double) -> IOPause {
        if context.isBroken {
            // Found dead before anything was sent: reconnect and send there; nothing is ambiguous.
            logger.info("redis connection found closed; reconnecting", metadata: ["redis": "\(configuration.endpoint)"])
            self.context = nil
            let delay = backOff()
            report(.reconnecting(attempt: pacing.attempt, retryIn: delay, reason: "connection closed by server"), nil)
            return .now
        }
        let count = min(configuration.maxPipeline, waiting.count)
        // A request whose caller was cancelled before it was written is not sent at all.
        let burst = waiting.prefix(count).filter { !$0.isAbandoned() }
        waiting.removeFirst(count)
        guard !burst.isEmpty else { return .now }
        // A frozen server must not hold callers past what they asked for: the burst is waited for
        // no longer than its most patient caller (nor than the endpoint's command timeout).
        // Whole seconds, so that callers with the usual budgets change the socket's timeout rarely.
        let patience = min(configuration.endpoint.commandTimeout, max(budget(of: burst).rounded(.up), PrimaryLocator.minimumBudget))
        context.limitIO(to: patience)
        burstDeadline = now + patience
        for request in burst { context.append(wire: request.wire) }
        inFlight.append(contentsOf: burst)
        firstReplies.removeAll(keepingCapacity: true)
        do {
            try context.flush()
        } catch {
            lose(error)
            return .now
        }
        return pause(context, now: now)
    }

    /// Reads the replies the socket has, answering each caller whose replies are all in.
    private func read(_ context: Context, now: Double) -> IOPause {
        do {
            guard context.isReadable else {
                if now >= burstDeadline { throw RedisError(.connectionLost, "Redis at \(context.endpoint): no reply in time (timed out)") }
                return pause(context, now: now)
            }
            for reply in try context.readAvailable() { receive(reply) }
        } catch {
            lose(error)
            return .now
        }
        if inFlight.isEmpty {
            burstEnded(context)
            return .now
        }
        return pause(context, now: now)
    }

    /// Until the socket is readable or the burst's deadline.
    private func pause(_ context: Context, now: Double) -> IOPause {
        IOPause(descriptor: context.descriptor, milliseconds: Int32(min(250, max(1, ((burstDeadline - now) * 1000).rounded(.up)))))
    }

    /// One reply of the burst: the first request's, answered once all of its replies are in.
    private func receive(_ reply: RedisReply) {
        guard let request = inFlight.first else { return }
        firstReplies.append(reply)
        guard firstReplies.count == request.replies else { return }
        inFlight.removeFirst()
        let replies = firstReplies
        firstReplies.removeAll(keepingCapacity: true)
        if locator.followsFailover, replies.contains(where: PrimaryLocator.isReadOnly) {
            refused.append(request)
        } else {
            request.resume(.success(replies))
        }
    }

    /// Every reply of the burst is in. If a failover demoted the server under this connection,
    /// the refused requests wait for the new primary.
    private func burstEnded(_ context: Context) {
        guard !refused.isEmpty else { return }
        let error = RedisError(.connectionLost, "Redis at \(context.endpoint) is read-only now (demoted by a failover)")
        logger.warning("redis primary demoted; finding the new primary",
                       metadata: ["redis": "\(configuration.endpoint)", "server": "\(context.endpoint)", "requeued": "\(refused.count)"])
        waiting.insert(contentsOf: refused, at: 0)
        refused.removeAll()
        self.context = nil
        lastError = error
        let delay = backOff()
        report(.reconnecting(attempt: pacing.attempt, retryIn: delay, reason: error.message), error)
    }

    /// The connection failed with a burst in flight: its unanswered callers fail (their commands
    /// may or may not have run), the refused ones wait for the next connection.
    private func lose(_ error: any Error) {
        let error = error as? RedisError ?? RedisError(.connectionLost, "\(error)")
        logger.warning("redis connection lost", metadata: ["redis": "\(configuration.endpoint)", "reason": "\(error.message)"])
        let lost = RedisError(.connectionLost, "connection to Redis lost with the command in flight: \(error.message)")
        for request in inFlight { request.resume(.failure(lost)) }
        inFlight.removeAll()
        firstReplies.removeAll()
        waiting.insert(contentsOf: refused, at: 0)
        refused.removeAll()
        context = nil
        lastError = error
        let delay = backOff()
        report(.reconnecting(attempt: pacing.attempt, retryIn: delay, reason: error.message), error)
    }
}
