import IOSupport
import Logging
import Synchronization

/// A connection to RabbitMQ owned by one dedicated I/O thread.
///
/// Callers on any thread or task publish, consume, settle and declare through it; the I/O thread
/// is the only caller of rabbitmq-c for this connection. It reconnects by itself with capped,
/// jittered backoff, cycling through the failover list, and on every reconnect re-declares what
/// it declared, resubscribes its consumers and re-publishes every message the broker had not
/// confirmed (so a publish is at-least-once: duplicates are possible, losses are not). A message
/// the broker refuses (`basic.nack`) is tried again on a fresh channel until its publish timeout.
///
/// Use one connection for publishing and another for consuming, so broker flow control on
/// publishers never stalls acknowledgements.
public final class AMQPConnection: Sendable {
    private struct Shared {
        var state: ConnectionState = .connecting
        var lastError: AMQPError?
        var generation: UInt64 = 0
        var started = false
        var waiters: [UInt64: FirstOutcome<Void, Error>] = [:]
        var nextWaiter: UInt64 = 0
        var observers: [@Sendable (ConnectionState) -> Void] = []
        var limits: PublishLimits
    }

    /// The configuration this connection was made with.
    public let configuration: Configuration
    private let commands: CommandQueue<Command>
    private let shared: Mutex<Shared>
    private let logger: Logger
    private let tagPrefix: String
    private let host: (any IOHost)?

    /// Creates the connection without connecting; call `start()`.
    /// - Parameter host: a thread that steps the connection's loop between its other work,
    ///   instead of a thread of the connection's own.
    /// - Throws: `AMQPError.Code.invalidURL` when there is no endpoint or one fails `validate()`.
    public init(configuration: Configuration, logger: Logger, host: (any IOHost)? = nil) throws {
        guard !configuration.endpoints.isEmpty else { throw AMQPError(.invalidURL, "an AMQP connection needs at least one endpoint") }
        for endpoint in configuration.endpoints { try endpoint.validate() }
        self.configuration = configuration
        self.logger = logger
        self.host = host
        self.commands = try host.map { CommandQueue(wakeup: $0.wakeup) } ?? CommandQueue()
        self.shared = Mutex(Shared(limits: PublishLimits(maxBodySize: configuration.maxBodySize)))
        self.tagPrefix = "\(configuration.name)-\(UInt32.random(in: 0...UInt32.max))"
    }

    /// Starts the I/O thread (or has the host step the connection), which connects in the
    /// background and keeps reconnecting.
    public func start() {
        let alreadyStarted = shared.withLock { s -> Bool in
            defer { s.started = true }
            return s.started
        }
        guard !alreadyStarted else { return }
        let loop = ConnectionLoop(configuration: configuration, commands: commands, logger: logger, reportLimits: { [weak self] limits in
            self?.shared.withLock { $0.limits = limits }
        }) { [weak self] state, error, generation in
            self?.update(state: state, error: error, generation: generation)
        }
        if let host {
            host.host(loop)
        } else {
            IOThread.start(name: "amqp:\(configuration.name)") { loop.run() }
        }
    }

    /// The current state.
    public var state: ConnectionState { shared.withLock { $0.state } }

    /// What one publish may carry on this connection: the properties budget of the frame size
    /// last negotiated (the size Conveyor asks for until then) and the largest body. A message
    /// past either fails alone with `messageTooLarge`; build copies that must arrive (dead
    /// letters, retries) to fit.
    public var publishLimits: PublishLimits { shared.withLock { $0.limits } }

    /// The most recent connection failure, if the connection is not up.
    public var lastError: AMQPError? { shared.withLock { $0.lastError } }

    /// Calls `observer` on every state change (on the I/O thread: keep it quick).
    public func onStateChange(_ observer: @escaping @Sendable (ConnectionState) -> Void) {
        shared.withLock { $0.observers.append(observer) }
    }

    /// Waits until connected. Throws the last connection error after `timeout` seconds, so a
    /// command-line tool can say "broker down" in one line instead of hanging. Cancelling the
    /// caller ends the wait at once with `CancellationError`.
    public func waitUntilConnected(timeout: Double) async throws {
        start()
        try Task.checkCancellation()
        let outcome = FirstOutcome<Void, Error>()
        let (id, ready) = shared.withLock { s -> (UInt64, Bool) in
            if s.state == .connected { return (0, true) }
            s.nextWaiter += 1
            s.waiters[s.nextWaiter] = outcome
            return (s.nextWaiter, false)
        }
        guard !ready else { return }
        outcome.onSettle { [weak self] in self?.shared.withLock { _ = $0.waiters.removeValue(forKey: id) } }
        let timer = Task { [weak self] in
            try? await Task.sleep(for: .sleeping(seconds: timeout))
            guard !Task.isCancelled else { return }
            self?.expireWaiter(outcome, after: timeout)
        }
        outcome.onSettle { timer.cancel() }
        try await outcome.value()
    }

    private func expireWaiter(_ outcome: FirstOutcome<Void, Error>, after timeout: Double) {
        let error = shared.withLock { $0.lastError }
        let endpoints = configuration.endpoints.map(\.description).joined(separator: ", ")
        outcome.settle(.failure(error ?? AMQPError(.timeout, "no connection to broker \(endpoints) within \(timeout) s")))
    }

    private func update(state: ConnectionState, error: AMQPError?, generation: UInt64) {
        let (waiters, observers) = shared.withLock { s -> ([FirstOutcome<Void, Error>], [@Sendable (ConnectionState) -> Void]) in
            s.state = state
            s.generation = generation
            if let error { s.lastError = error }
            if state == .connected { s.lastError = nil }
            guard state == .connected || state == .closed else { return ([], s.observers) }
            let all = Array(s.waiters.values)
            s.waiters.removeAll()
            return (all, s.observers)
        }
        for waiter in waiters {
            waiter.settle(state == .connected ? .success(()) : .failure(AMQPError(.closed, "connection closed")))
        }
        for observer in observers { observer(state) }
    }

    // MARK: Publishing

    /// Publishes one message and returns once the broker confirmed it.
    ///
    /// Throws `unroutable` when a mandatory message matched no queue, `nacked` when the broker
    /// refused it on every try until the timeout, `blocked`
    /// (resource alarm), `connectionLost` when no connection came back in time, or
    /// `confirmTimeout` when the outcome is unknown. A message that can never be published
    /// (`messageTooLarge`, `invalidMessage`, or refused by the broker for itself) fails alone:
    /// it is not sent again, and the connection and other publishes carry on.
    ///
    /// Cancelling the caller (even before it calls) ends the wait at once with
    /// `CancellationError`, and then the outcome is unknown: the message is handed over either
    /// way, and is written, tracked until the broker confirms it and re-published after a
    /// reconnect like any other. Cancellation stops the waiting, never the publish; publish
    /// again (the same task id) if it must arrive.
    public func publish(_ message: OutgoingMessage, timeout: Double? = nil) async throws {
        start()
        let deadline = monotonicSeconds() + (timeout ?? configuration.publishTimeout)
        let outcome = FirstOutcome<Void, Error>()
        submit(.publish([PendingPublish(message: message, deadline: deadline) { outcome.settle($0.mapError { $0 as Error }) }]))
        try await outcome.value()
    }

    /// Publishes many messages in one go and returns each one's outcome, in order, once all are
    /// confirmed or failed. Far faster than awaiting `publish` one by one.
    ///
    /// Cancelling the caller returns at once: every message not yet confirmed gets `.cancelled`
    /// (its publish goes on; it may still arrive), the confirmed ones keep their outcome.
    public func publish(batch messages: [OutgoingMessage], timeout: Double? = nil) async -> [Result<Void, AMQPError>] {
        guard !messages.isEmpty else { return [] }
        start()
        let deadline = monotonicSeconds() + (timeout ?? configuration.publishTimeout)
        let collector = BatchCollector(count: messages.count)
        return await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<[Result<Void, AMQPError>], Never>) in
                collector.outcome.attach(continuation)
                // Submitted even when already cancelled: cancellation stops the waiting, never the publish.
                let pendings = messages.enumerated().map { index, message in
                    PendingPublish(message: message, deadline: deadline) { result in collector.record(index, result) }
                }
                submit(.publish(pendings))
            }
        } onCancel: {
            collector.cancelRemaining()
        }
    }

    /// Publishes without waiting; `completion` runs on the I/O thread with the confirm outcome.
    public func publish(_ message: OutgoingMessage, timeout: Double? = nil,
                        completion: @escaping @Sendable (Result<Void, AMQPError>) -> Void) {
        start()
        let deadline = monotonicSeconds() + (timeout ?? configuration.publishTimeout)
        submit(.publish([PendingPublish(message: message, deadline: deadline, completion: completion)]))
    }

    // MARK: Topology

    /// Declares exchanges, queues and bindings, in order. With `remember` (the default) they
    /// are declared again after every reconnect.
    public func declare(_ declarations: [TopologyDeclaration], remember: Bool = true, timeout: Double? = nil) async throws {
        try await call(timeout) { .declare(declarations, remember: remember, $0) }
    }

    /// Ready-message and consumer counts of a queue (passive declare); `notFound` if missing.
    public func inspect(queue: String, timeout: Double? = nil) async throws -> QueueStatus {
        try await call(timeout) { .inspect(queue: queue, $0) }
    }

    /// Removes every ready message from a queue; returns how many.
    public func purge(queue: String, timeout: Double? = nil) async throws -> UInt32 {
        try await call(timeout) { .purge(queue: queue, $0) }
    }

    /// Deletes a queue; returns how many messages it held.
    public func delete(queue: String, timeout: Double? = nil) async throws -> UInt32 {
        try await call(timeout) { .deleteQueue(queue: queue, $0) }
    }

    // MARK: Consuming

    /// Subscribes to `queue`, now and after every reconnect. `handler` runs on the I/O thread
    /// for each delivery: hand the delivery off and return quickly. A caller cancelled while it
    /// waits may still end up subscribed (like every call here, cancellation ends the wait, not
    /// the command): `cancelConsumers` to be sure.
    /// - Returns: the consumer tag.
    @discardableResult
    public func consume(queue: String, options: ConsumerOptions = .init(), timeout: Double? = nil,
                        handler: @escaping @Sendable (Delivery) -> Void) async throws -> String {
        let tag = "\(tagPrefix)-\(queue)"
        let registration = ConsumerRegistration(queue: queue, tag: tag, options: options, handler: handler)
        try await call(timeout) { .consume(registration, $0) }
        return tag
    }

    /// Stops every consumer (deliveries already received stay unacknowledged until settled).
    public func cancelConsumers(timeout: Double? = nil) async throws {
        try await call(timeout) { .cancelConsumers($0) }
    }

    /// Stops the consumer `consume` returned `tag` for, now and after reconnects (deliveries
    /// already received stay unacknowledged until settled). An unknown tag is not an error.
    public func cancelConsumer(tag: String, timeout: Double? = nil) async throws {
        try await call(timeout) { .cancelConsumer(tag: tag, $0) }
    }

    /// Acknowledges a delivery. A delivery from an earlier connection is ignored: the broker
    /// already requeued it when that connection died.
    public func ack(_ delivery: Delivery) {
        settle(CollectionOfOne(delivery), .ack)
    }

    /// Acknowledges several deliveries with one hand-off to the I/O thread.
    public func ack(_ deliveries: some Sequence<Delivery>) {
        settle(deliveries, .ack)
    }

    /// Rejects a delivery, requeueing it or dropping it.
    public func reject(_ delivery: Delivery, requeue: Bool) {
        settle(CollectionOfOne(delivery), .reject(requeue: requeue))
    }

    /// Hands settlements to the I/O thread as one command; deliveries taken without
    /// acknowledgement need none.
    private func settle(_ deliveries: some Sequence<Delivery>, _ settlement: Settlement) {
        // One pass, one array (this runs for every acknowledged batch).
        var requests: [SettleRequest] = []
        requests.reserveCapacity(deliveries.underestimatedCount)
        for delivery in deliveries where !delivery.noAck {
            requests.append(SettleRequest(tag: delivery.deliveryTag, generation: delivery.generation, settlement: settlement))
        }
        if !requests.isEmpty { commands.push(.settle(requests)) }
    }

    /// The current connection incarnation; deliveries from older ones cannot be settled.
    public var generation: UInt64 { shared.withLock { $0.generation } }

    // MARK: Closing

    /// Closes the connection after a short grace for outstanding confirms; fails what is left.
    public func close() async {
        let started = shared.withLock { $0.started }
        guard started else { return }
        _ = try? await uncancellableCall(configuration.rpcTimeout + 5) { .close($0) } as Void
    }

    /// Hands a command to the I/O thread and waits for its answer. Cancelling the caller (even
    /// before it calls) ends the wait at once with `CancellationError`; the command is handed
    /// over and runs either way, so its outcome is unknown to the caller.
    private func call<T: Sendable>(_ timeout: Double?, _ make: (Completion<T>) -> Command) async throws -> T {
        start()
        let deadline = monotonicSeconds() + (timeout ?? configuration.operationTimeout)
        let outcome = FirstOutcome<T, Error>()
        submit(make(Completion<T>(deadline: deadline) { outcome.settle($0.mapError { $0 as Error }) }))
        return try await outcome.value()
    }

    /// Like `call`, but the caller's cancellation does not end the wait: closing must finish
    /// (a worker closes its connections from tasks that may be cancelled).
    private func uncancellableCall<T: Sendable>(_ timeout: Double, _ make: (Completion<T>) -> Command) async throws -> T {
        start()
        let deadline = monotonicSeconds() + timeout
        return try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, Error>) in
            submit(make(Completion<T>(deadline: deadline) { continuation.resume(with: $0.mapError { $0 as Error }) }))
        }
    }

    /// Hands a command to the I/O thread, or fails it at once when the connection is closed.
    private func submit(_ command: Command) {
        guard !commands.push(command) else { return }
        if case let .close(completion) = command {
            completion.succeed(())
        } else {
            command.fail(AMQPError(.closed, "connection \(configuration.name) is closed"))
        }
    }
}

/// Gathers per-message outcomes of a batch publish and resumes the caller once.
private final class BatchCollector: Sendable {
    private struct State {
        var results: [Result<Void, AMQPError>?]
        var remaining: Int
    }
    private let state: Mutex<State>
    /// Settled with every result once the last one is in, or at cancellation.
    let outcome = FirstOutcome<[Result<Void, AMQPError>], Never>()

    init(count: Int) {
        state = Mutex(State(results: Array(repeating: nil, count: count), remaining: count))
    }

    func record(_ index: Int, _ result: Result<Void, AMQPError>) {
        let done = state.withLock { s -> [Result<Void, AMQPError>]? in
            guard s.results[index] == nil else { return nil }
            s.results[index] = result
            s.remaining -= 1
            guard s.remaining == 0 else { return nil }
            return s.results.map { $0 ?? .failure(AMQPError(.closed, "no outcome")) }
        }
        if let done { outcome.settle(.success(done)) }
    }

    /// The caller was cancelled: the outcomes so far, `.cancelled` for the rest.
    func cancelRemaining() {
        let results = state.withLock { s in
            s.results.map { $0 ?? .failure(AMQPError(.cancelled, "cancelled before the broker confirmed it; it may still arrive")) }
        }
        outcome.settle(.success(results))
    }
}
