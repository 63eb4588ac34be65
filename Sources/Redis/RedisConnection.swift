import DequeModule
import IOSupport
import Logging
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// A connection to Redis owned by one dedicated I/O thread, with automatic pipelining.
///
/// Commands from any number of tasks queue up; the I/O thread writes everything queued, then
/// reads the replies in order, so under load many commands share one round trip. It reconnects
/// by itself with capped, jittered backoff, and re-applies timeouts, keepalive, AUTH and
/// SELECT on every new connection.
///
/// A command that was in flight when the connection died fails with `connectionLost` (it may
/// or may not have run); one that never got a connection before its deadline fails with
/// `unavailable` (it did not run).
public final class RedisConnection: Sendable {
    /// How to connect and behave.
    public struct Configuration: Sendable {
        public var endpoint: RedisEndpoint
        /// Shown by `CLIENT LIST`.
        public var name: String
        /// How long a command may wait for a connection, seconds.
        public var queueTimeout: Double
        /// Reconnect pacing.
        public var reconnect: Backoff
        /// Most commands written in one pipeline burst.
        public var maxPipeline: Int

        public init(endpoint: RedisEndpoint, name: String, queueTimeout: Double = 10, reconnect: Backoff = Backoff(),
                    maxPipeline: Int = 1024) {
            self.endpoint = endpoint
            self.name = name
            self.queueTimeout = queueTimeout
            self.reconnect = reconnect
            self.maxPipeline = maxPipeline
        }
    }

    /// One command, or several written back to back (a pipeline), answered together.
    struct Request: Sendable {
        /// The commands in the protocol's format.
        let wire: [UInt8]
        /// How many commands `wire` holds: the replies to read.
        let replies: Int
        let deadline: Double
        let resume: @Sendable (Result<[RedisReply], RedisError>) -> Void
        /// Whether the caller stopped waiting (it was cancelled): a request not yet written is
        /// then dropped instead of sent.
        let isAbandoned: @Sendable () -> Bool

        init(wire: RedisWire, deadline: Double, isAbandoned: @escaping @Sendable () -> Bool = { false },
             resume: @escaping @Sendable (Result<[RedisReply], RedisError>) -> Void) {
            self.wire = wire.bytes
            self.replies = wire.commands
            self.deadline = deadline
            self.isAbandoned = isAbandoned
            self.resume = resume
        }

        init(arguments: [[UInt8]], deadline: Double, isAbandoned: @escaping @Sendable () -> Bool = { false },
             resume: @escaping @Sendable (Result<RedisReply, RedisError>) -> Void) {
            var wire = RedisWire()
            wire.command(arguments)
            self.init(wire: wire, deadline: deadline, isAbandoned: isAbandoned) { result in
                resume(result.map { $0.first ?? .null })
            }
        }
    }

    enum Command: Sendable {
        case request(Request)
        case close(@Sendable () -> Void)
    }

    private struct Shared {
        var started = false
        var state: ConnectionState = .connecting
        var lastError: RedisError?
        var observers: [@Sendable (ConnectionState) -> Void] = []
    }

    public let configuration: Configuration
    private let commands: CommandQueue<Command>
    private let shared = Mutex(Shared())
    private let logger: Logger

    /// Creates the connection without connecting; it starts on first use or `start()`.
    ///
    /// hiredis 0.14 writes with `write()`, so a server that goes away mid-write would raise
    /// SIGPIPE and kill the process: creating a connection ignores SIGPIPE process-wide.
    /// - Throws: `RedisError.Code.invalidURL` when the endpoint fails `RedisEndpoint.validate()`.
    public init(configuration: Configuration, logger: Logger) throws {
        try configuration.endpoint.validate()
        signal(SIGPIPE, SIG_IGN)
        self.configuration = configuration
        self.logger = logger
        self.commands = try CommandQueue()
    }

    /// Starts the I/O thread.
    public func start() {
        let already = shared.withLock { s -> Bool in
            defer { s.started = true }
            return s.started
        }
        guard !already else { return }
        let loop = RedisLoop(configuration: configuration, commands: commands, logger: logger) { [weak self] state, error in
            self?.update(state, error)
        }
        IOThread.start(name: "redis:\(configuration.name)") { loop.run() }
    }

    /// The current state.
    public var state: ConnectionState { shared.withLock { $0.state } }
    /// The most recent failure, when not connected.
    public var lastError: RedisError? { shared.withLock { $0.lastError } }

    /// Calls `observer` on every state change (on the I/O thread: keep it quick).
    public func onStateChange(_ observer: @escaping @Sendable (ConnectionState) -> Void) {
        shared.withLock { $0.observers.append(observer) }
    }

    private func update(_ state: ConnectionState, _ error: RedisError?) {
        let observers = shared.withLock { s -> [@Sendable (ConnectionState) -> Void] in
            s.state = state
            if let error { s.lastError = error }
            if state == .connected { s.lastError = nil }
            return s.observers
        }
        for observer in observers { observer(state) }
    }

    /// Sends one command and returns its reply. Error replies throw `RedisError.Code.server`.
    public func send(_ arguments: [any RedisArgument], timeout: Double? = nil) async throws -> RedisReply {
        let reply = try await raw(arguments.map(\.redisBytes), timeout: timeout)
        if case let .error(message) = reply { throw RedisError(.server, message) }
        return reply
    }

    /// Sends one command: `send("SET", key, value)`.
    public func send(_ command: String, _ arguments: any RedisArgument..., timeout: Double? = nil) async throws -> RedisReply {
        try await send([command] + arguments, timeout: timeout)
    }

    /// Sends one command and returns error replies as values instead of throwing.
    ///
    /// Cancelling the caller ends the wait at once with `CancellationError`. A command not yet
    /// written is then never sent; one already written still runs on the server (its outcome is
    /// unknown to the caller) and its reply is read and dropped in order, so the connection
    /// stays in step. A blocking command (`BLPOP`) keeps the server busy for this connection
    /// until it returns, whoever waits for it.
    public func raw(_ arguments: [[UInt8]], timeout: Double? = nil) async throws -> RedisReply {
        try await pipeline([arguments], timeout: timeout).first ?? .null
    }

    /// Sends commands back to back (one round trip) and returns their replies in order, error
    /// replies included as values. Cancelling the caller ends the wait as for `raw`.
    public func pipeline(_ commands: [[[UInt8]]], timeout: Double? = nil) async throws -> [RedisReply] {
        var wire = RedisWire()
        for arguments in commands { wire.command(arguments) }
        return try await pipeline(wire, timeout: timeout)
    }

    /// `pipeline` for commands already encoded: one buffer for all of them.
    public func pipeline(_ wire: RedisWire, timeout: Double? = nil) async throws -> [RedisReply] {
        guard wire.commands > 0 else { return [] }
        start()
        try Task.checkCancellation()
        let deadline = monotonicSeconds() + (timeout ?? configuration.queueTimeout)
        let outcome = FirstOutcome<[RedisReply], Error>()
        submit(.request(Request(wire: wire, deadline: deadline, isAbandoned: { outcome.isSettled }) { result in
            outcome.settle(result.mapError { $0 as Error })
        }))
        return try await outcome.value()
    }

    /// Sends one command without waiting; `completion` runs on the I/O thread.
    public func send(_ arguments: [[UInt8]], timeout: Double? = nil, completion: @escaping @Sendable (Result<RedisReply, RedisError>) -> Void) {
        start()
        let deadline = monotonicSeconds() + (timeout ?? configuration.queueTimeout)
        submit(.request(Request(arguments: arguments, deadline: deadline, resume: completion)))
    }

    /// Waits until a command round trip works, or throws the reason after `timeout` seconds.
    public func ping(timeout: Double) async throws {
        _ = try await send(["PING"], timeout: timeout)
    }

    /// Closes the connection; queued commands fail with `closed`.
    public func close() async {
        let started = shared.withLock { $0.started }
        guard started else { return }
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            submit(.close { continuation.resume() })
        }
    }

    /// Hands a command to the I/O thread, or answers it at once when the connection is closed.
    private func submit(_ command: Command) {
        guard !commands.push(command) else { return }
        switch command {
        case let .request(request): request.resume(.failure(RedisError(.closed, "Redis connection \(configuration.name) is closed")))
        case let .close(done): done()
        }
    }
}

/// The body of a Redis connection's I/O thread.
// Handed to its thread at start and touched only there afterwards, hence unchecked.
final class RedisLoop: @unchecked Sendable {
    private let configuration: RedisConnection.Configuration
    private let commands: CommandQueue<RedisConnection.Command>
    private let logger: Logger
    private let report: @Sendable (ConnectionState, RedisError?) -> Void
    private var context: Context?
    private var waiting: Deque<RedisConnection.Request> = []
    private var pacing: ReconnectPacing
    /// The server, or through Sentinel the current primary, on every connect.
    private var locator: PrimaryLocator
    /// No connect before this (monotonic seconds): the backoff after a failed connect or a lost
    /// connection, so a server that accepts and then drops us is not reconnected to in a loop.
    private var retryAt = 0.0
    private var lastError: RedisError?
    private var onClose: (@Sendable () -> Void)?

    init(configuration: RedisConnection.Configuration, commands: CommandQueue<RedisConnection.Command>, logger: Logger,
         report: @escaping @Sendable (ConnectionState, RedisError?) -> Void) {
        self.configuration = configuration
        self.commands = commands
        self.logger = logger
        self.report = report
        pacing = ReconnectPacing(backoff: configuration.reconnect)
        locator = PrimaryLocator(endpoint: configuration.endpoint, logger: logger)
    }

    func run() {
        report(.connecting, nil)
        while onClose == nil {
            take()
            if context == nil {
                // Nothing to connect for when every caller waiting has been cancelled.
                waiting.removeAll { $0.isAbandoned() }
                if waiting.isEmpty {
                    commands.sleep(timeoutMilliseconds: 250)
                    continue
                }
                connect()
                continue
            }
            if waiting.isEmpty {
                commands.sleep(timeoutMilliseconds: 250)
                continue
            }
            pipeline()
        }
        let error = RedisError(.closed, "Redis connection \(configuration.name) closed")
        for request in waiting { request.resume(.failure(error)) }
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

    private func take() {
        for command in commands.takeAll() {
            switch command {
            case let .request(request): waiting.append(request)
            case let .close(done): onClose = done
            }
        }
    }

    private func connect() {
        waitForRetry()
        guard onClose == nil, !waiting.isEmpty else { return }
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

    /// Until `retryAt`, keeps answering callers: takes commands, fails those past their deadline.
    private func waitForRetry() {
        while onClose == nil {
            let now = monotonicSeconds()
            expire(now: now)
            waiting.removeAll { $0.isAbandoned() }
            if now >= retryAt || waiting.isEmpty { return }
            commands.sleep(timeoutMilliseconds: Int32(min(250, max(1, (retryAt - now) * 1000))))
            take()
        }
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

    /// Writes up to `maxPipeline` queued commands, then reads their replies in order.
    private func pipeline() {
        guard let context else { return }
        if context.isBroken {
            // Found dead before anything was sent: reconnect and send there; nothing is ambiguous.
            logger.info("redis connection found closed; reconnecting", metadata: ["redis": "\(configuration.endpoint)"])
            self.context = nil
            let delay = backOff()
            report(.reconnecting(attempt: pacing.attempt, retryIn: delay, reason: "connection closed by server"), nil)
            return
        }
        let count = min(configuration.maxPipeline, waiting.count)
        // A request whose caller was cancelled before it was written is not sent at all.
        let batch = waiting.prefix(count).filter { !$0.isAbandoned() }
        waiting.removeFirst(count)
        guard !batch.isEmpty else { return }
        // A frozen server must not hold callers past what they asked for: the reads of this batch
        // wait no longer than its most patient caller (nor than the endpoint's command timeout).
        // Whole seconds, so that callers with the usual budgets change the socket's timeout rarely.
        let patience = max(budget(of: batch).rounded(.up), PrimaryLocator.minimumBudget)
        context.limitIO(to: min(configuration.endpoint.commandTimeout, patience))
        for request in batch { context.append(wire: request.wire) }
        // Requests a demoted primary refused (READONLY): none of their writes ran, so they go to
        // the new primary once it is found instead of failing their callers.
        var refused: [RedisConnection.Request] = []
        for (index, request) in batch.enumerated() {
            do {
                var replies: [RedisReply] = []
                replies.reserveCapacity(request.replies)
                for _ in 0..<request.replies { replies.append(try context.reply()) }
                if locator.followsFailover, replies.contains(where: PrimaryLocator.isReadOnly) {
                    refused.append(request)
                } else {
                    request.resume(.success(replies))
                }
            } catch {
                let error = error as? RedisError ?? RedisError(.connectionLost, "\(error)")
                logger.warning("redis connection lost", metadata: ["redis": "\(configuration.endpoint)", "reason": "\(error.message)"])
                let lost = RedisError(.connectionLost, "connection to Redis lost with the command in flight: \(error.message)")
                for unanswered in batch[index...] { unanswered.resume(.failure(lost)) }
                waiting.insert(contentsOf: refused, at: 0)
                self.context = nil
                lastError = error
                let delay = backOff()
                report(.reconnecting(attempt: pacing.attempt, retryIn: delay, reason: error.message), error)
                return
            }
        }
        if !refused.isEmpty {
            // A failover demoted the server under this connection: find the primary again.
            let error = RedisError(.connectionLost, "Redis at \(context.endpoint) is read-only now (demoted by a failover)")
            logger.warning("redis primary demoted; finding the new primary",
                           metadata: ["redis": "\(configuration.endpoint)", "server": "\(context.endpoint)", "requeued": "\(refused.count)"])
            waiting.insert(contentsOf: refused, at: 0)
            self.context = nil
            lastError = error
            let delay = backOff()
            report(.reconnecting(attempt: pacing.attempt, retryIn: delay, reason: error.message), error)
        }
    }
}
