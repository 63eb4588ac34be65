import DequeModule
import IOSupport
import Logging
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// A connection to Redis stepped by one I/O thread (its own, or an `IOHost`'s), with automatic
/// pipelining.
///
/// Commands from any number of tasks queue up; the I/O loop writes everything queued, then
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
    /// What steps this connection, when not a thread of its own.
    public let host: (any IOHost)?

    /// Creates the connection without connecting; it starts on first use or `start()`.
    ///
    /// hiredis 0.14 writes with `write()`, so a server that goes away mid-write would raise
    /// SIGPIPE and kill the process: creating a connection ignores SIGPIPE process-wide.
    /// - Throws: `RedisError.Code.invalidURL` when the endpoint fails `RedisEndpoint.validate()`.
    /// - Parameter host: a thread that steps the connection's loop between its other work,
    ///   instead of a thread of the connection's own.
    public init(configuration: Configuration, logger: Logger, host: (any IOHost)? = nil) throws {
        try configuration.endpoint.validate()
        signal(SIGPIPE, SIG_IGN)
        self.configuration = configuration
        self.logger = logger
        self.host = host
        self.commands = try host.map { CommandQueue(wakeup: $0.wakeup) } ?? CommandQueue()
    }

    /// Starts the I/O thread (or has the host step the connection).
    public func start() {
        let already = shared.withLock { s -> Bool in
            defer { s.started = true }
            return s.started
        }
        guard !already else { return }
        let loop = RedisLoop(configuration: configuration, commands: commands, logger: logger) { [weak self] state, error in
            self?.update(state, error)
        }
        if let host {
            host.host(loop)
        } else {
            IOThread.start(name: "redis:\(configuration.name)") { loop.run() }
        }
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
