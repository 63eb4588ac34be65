import IOSupport
import Logging
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// A pub/sub connection on its own I/O thread, shared by everything in the process that
/// listens to channels (one connection for many waiters, not one per wait).
///
/// `subscribe` returns only once Redis confirmed the subscription, so a caller can subscribe,
/// then read a key, and never miss a message published in between. After a reconnect every
/// channel is subscribed again and `onReconnect` runs, so owners can re-read what they may have
/// missed while disconnected.
public final class RedisSubscriber: Sendable {
    enum Command: Sendable {
        case subscribe(String, @Sendable (Result<Void, RedisError>) -> Void)
        case unsubscribe(String)
        case close(@Sendable () -> Void)
    }

    private let commands: CommandQueue<Command>
    private let started = Mutex(false)
    private let observers = Mutex<[@Sendable (ConnectionState) -> Void]>([])
    private let endpoint: RedisEndpoint
    private let logger: Logger
    private let onMessage: @Sendable (String, [UInt8]) -> Void
    private let onReconnect: @Sendable () -> Void
    private let reconnect: Backoff

    /// - Parameters:
    ///   - endpoint: the Redis server.
    ///   - onMessage: called on the I/O thread with channel and payload; keep it quick.
    ///   - onReconnect: called on the I/O thread after a reconnect re-subscribed everything.
    /// - Throws: `RedisError.Code.invalidURL` when the endpoint fails `RedisEndpoint.validate()`.
    public init(endpoint: RedisEndpoint, logger: Logger, reconnect: Backoff = Backoff(),
                onMessage: @escaping @Sendable (String, [UInt8]) -> Void, onReconnect: @escaping @Sendable () -> Void = {}) throws {
        try endpoint.validate()
        signal(SIGPIPE, SIG_IGN)  // see RedisConnection.init
        self.endpoint = endpoint
        self.logger = logger
        self.onMessage = onMessage
        self.onReconnect = onReconnect
        self.reconnect = reconnect
        self.commands = try CommandQueue()
    }

    private func start() {
        let already = started.withLock { s -> Bool in
            defer { s = true }
            return s
        }
        guard !already else { return }
        let loop = SubscriberLoop(endpoint: endpoint, commands: commands, logger: logger, reconnect: reconnect,
                                  onMessage: onMessage, onReconnect: onReconnect) { [weak self] state in
            for observer in self?.observers.withLock({ $0 }) ?? [] { observer(state) }
        }
        IOThread.start(name: "redis:subscriber") { loop.run() }
    }

    /// Calls `observer` on every connection state change (on the I/O thread: keep it quick):
    /// `reconnecting` with the reason while Redis cannot be reached, `connected` once it is.
    public func onStateChange(_ observer: @escaping @Sendable (ConnectionState) -> Void) {
        observers.withLock { $0.append(observer) }
    }

    /// Subscribes to `channel`; returns once Redis confirmed it. Throws `unavailable` when no
    /// connection came up within `timeout` seconds (`.infinity`: wait as long as it takes). The
    /// channel stays subscribed either way: the subscriber keeps reconnecting and subscribes it
    /// as soon as Redis answers, until `unsubscribe`.
    ///
    /// Cancelling the caller ends the wait at once with `CancellationError`; the subscription
    /// still takes effect as above.
    public func subscribe(_ channel: String, timeout: Double = 10) async throws {
        start()
        try Task.checkCancellation()
        let endpoint = self.endpoint
        let outcome = FirstOutcome<Void, Error>()
        let finish: @Sendable (Result<Void, RedisError>) -> Void = { outcome.settle($0.mapError { $0 as Error }) }
        if !commands.push(.subscribe(channel, finish)) { finish(.failure(RedisError(.closed, "subscriber closed"))) }
        if timeout < .infinity {
            let timer = Task {
                try? await Task.sleep(for: .sleeping(seconds: timeout))
                guard !Task.isCancelled else { return }
                finish(.failure(RedisError(.unavailable, "Redis at \(endpoint) did not confirm SUBSCRIBE \(channel) within \(timeout) s")))
            }
            outcome.onSettle { timer.cancel() }
        }
        try await outcome.value()
    }

    /// Stops listening to `channel`.
    public func unsubscribe(_ channel: String) {
        commands.push(.unsubscribe(channel))
    }

    /// Closes the connection.
    public func close() async {
        guard started.withLock({ $0 }) else { return }
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            if !commands.push(.close { continuation.resume() }) { continuation.resume() }
        }
    }
}

// Handed to its thread at start and touched only there afterwards, hence unchecked.
final class SubscriberLoop: @unchecked Sendable {
    private let endpoint: RedisEndpoint
    private let commands: CommandQueue<RedisSubscriber.Command>
    private let logger: Logger
    private let onMessage: @Sendable (String, [UInt8]) -> Void
    private let onReconnect: @Sendable () -> Void
    private let report: @Sendable (ConnectionState) -> Void
    private var context: Context?
    private var channels: Set<String> = []
    /// Subscriptions waiting for Redis' confirmation, by channel.
    private var confirming: [String: [@Sendable (Result<Void, RedisError>) -> Void]] = [:]
    private var pacing: ReconnectPacing
    /// The server, or through Sentinel the current primary, on every connect.
    private var locator: PrimaryLocator
    /// No connect before this (monotonic seconds): after a failed connect or a lost connection.
    private var retryAt = 0.0
    private var everConnected = false
    private var onClose: (@Sendable () -> Void)?

    init(endpoint: RedisEndpoint, commands: CommandQueue<RedisSubscriber.Command>, logger: Logger, reconnect: Backoff,
         onMessage: @escaping @Sendable (String, [UInt8]) -> Void, onReconnect: @escaping @Sendable () -> Void,
         report: @escaping @Sendable (ConnectionState) -> Void) {
        self.report = report
        self.endpoint = endpoint
        self.commands = commands
        self.logger = logger
        self.onMessage = onMessage
        self.onReconnect = onReconnect
        pacing = ReconnectPacing(backoff: reconnect)
        locator = PrimaryLocator(endpoint: endpoint, logger: logger)
    }

    func run() {
        while onClose == nil {
            if context == nil {
                connect()
                continue
            }
            do {
                try process(commands.takeAll())
                guard let context, onClose == nil else { continue }
                if commands.sleep(timeoutMilliseconds: 1000, orReadable: context.descriptor) {
                    for reply in try context.readAvailable() { dispatch(reply) }
                }
            } catch {
                let error = error as? RedisError ?? RedisError(.connectionLost, "\(error)")
                logger.warning("redis subscriber connection lost", metadata: ["redis": "\(endpoint)", "reason": "\(error.message)"])
                context = nil
                let delay = backOff()
                report(.reconnecting(attempt: pacing.attempt, retryIn: delay, reason: error.message))
            }
        }
        let closed = RedisError(.closed, "subscriber closed")
        for waiters in confirming.values { waiters.forEach { $0(.failure(closed)) } }
        for command in commands.close() {
            switch command {
            case let .subscribe(_, done): done(.failure(closed))
            case let .close(done): done()
            case .unsubscribe: break
            }
        }
        context = nil
        report(.closed)
        onClose?()
    }

    private func connect() {
        waitForRetry()
        guard onClose == nil else { return }
        do {
            let context = try locator.connect()
            self.context = context
            pacing.connected(at: monotonicSeconds())
            if !channels.isEmpty {
                // Every channel, including those whose confirmation we still wait for.
                for chunk in Array(channels).chunked(into: 256) {
                    context.append([Array("SUBSCRIBE".utf8)] + chunk.map { Array($0.utf8) })
                }
                try context.flush()
            }
            report(.connected)
            if everConnected { onReconnect() }
            everConnected = true
        } catch {
            context = nil
            let error = error as? RedisError ?? RedisError(.connectionFailed, "\(error)")
            let delay = backOff()
            if pacing.attempt == 1 || pacing.attempt % 10 == 0 {
                logger.warning("redis subscriber cannot connect", metadata: ["redis": "\(endpoint)", "reason": "\(error.message)"])
            }
            report(.reconnecting(attempt: pacing.attempt, retryIn: delay, reason: error.message))
        }
    }

    /// Counts a failure and sets when the next connect may start. - Returns: the wait, seconds.
    private func backOff() -> Double {
        let now = monotonicSeconds()
        let delay = pacing.failed(at: now)
        retryAt = now + delay
        return delay
    }

    /// Until `retryAt`, keeps taking commands: subscriptions wait for the next connection.
    private func waitForRetry() {
        while onClose == nil, monotonicSeconds() < retryAt {
            commands.sleep(timeoutMilliseconds: Int32(max(1, min(250, (retryAt - monotonicSeconds()) * 1000))))
            for command in commands.takeAll() {
                switch command {
                case let .subscribe(channel, done):
                    channels.insert(channel)
                    confirming[channel, default: []].append(done)
                case let .unsubscribe(channel):
                    channels.remove(channel)
                    confirming[channel]?.forEach { $0(.failure(RedisError(.closed, "unsubscribed"))) }
                    confirming[channel] = nil
                case let .close(done): onClose = done
                }
            }
        }
    }

    private func process(_ batch: some Sequence<RedisSubscriber.Command>) throws {
        guard let context else { return }
        var toSubscribe: [String] = []
        var toUnsubscribe: [String] = []
        for command in batch {
            switch command {
            case let .subscribe(channel, done):
                confirming[channel, default: []].append(done)
                if channels.insert(channel).inserted { toSubscribe.append(channel) }
                toUnsubscribe.removeAll { $0 == channel }
            case let .unsubscribe(channel):
                if channels.remove(channel) != nil { toUnsubscribe.append(channel) }
                confirming[channel]?.forEach { $0(.failure(RedisError(.closed, "unsubscribed"))) }
                confirming[channel] = nil
            case let .close(done):
                onClose = done
            }
        }
        // A second waiter on an already-subscribed channel is confirmed at once.
        for (channel, waiters) in confirming where channels.contains(channel) && !toSubscribe.contains(channel) && !waiters.isEmpty {
            if !isAwaitingConfirmation(channel) {
                waiters.forEach { $0(.success(())) }
                confirming[channel] = nil
            }
        }
        for chunk in toSubscribe.chunked(into: 256) {
            pendingConfirmation.formUnion(chunk)
            context.append([Array("SUBSCRIBE".utf8)] + chunk.map { Array($0.utf8) })
        }
        for chunk in toUnsubscribe.chunked(into: 256) {
            context.append([Array("UNSUBSCRIBE".utf8)] + chunk.map { Array($0.utf8) })
        }
        if !toSubscribe.isEmpty || !toUnsubscribe.isEmpty { try context.flush() }
    }

    /// Channels sent to Redis whose `subscribe` confirmation has not arrived yet.
    private var pendingConfirmation: Set<String> = []

    private func isAwaitingConfirmation(_ channel: String) -> Bool { pendingConfirmation.contains(channel) }

    private func dispatch(_ reply: RedisReply) {
        guard let items = reply.array, items.count >= 3, let kind = items[0].string else { return }
        switch kind {
        case "message":
            if let channel = items[1].string, let payload = items[2].bytes { onMessage(channel, payload) }
        case "subscribe":
            if let channel = items[1].string {
                pendingConfirmation.remove(channel)
                confirming[channel]?.forEach { $0(.success(())) }
                confirming[channel] = nil
            }
        default:
            break
        }
    }
}

extension Array {
    func chunked(into size: Int) -> [[Element]] {
        stride(from: 0, to: count, by: size).map { Array(self[$0..<Swift.min($0 + size, count)]) }
    }
}
