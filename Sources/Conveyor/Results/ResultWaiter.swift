import IOSupport
import Logging
import Redis
import Synchronization

/// Waits for task results through one shared pub/sub connection, however many callers wait.
///
/// For each waited id: subscribe to `celery-task-meta-<id>` (confirmed), then read the key, so
/// a result stored before or after the subscription is seen either way. After the subscriber
/// reconnects every waited key is read again, covering results published while it was down.
final class ResultWaiter: Sendable {
    private struct State {
        /// Each waiting caller's race: the result, its timeout, a store error or its cancellation.
        var waiters: [String: [UInt64: FirstOutcome<ResultMeta, Error>]] = [:]
        var nextToken: UInt64 = 0
    }

    private let store: ResultStore
    private let state = Mutex(State())
    private let subscriber: Mutex<RedisSubscriber?> = Mutex(nil)
    private let endpoint: RedisEndpoint
    private let logger: Logger

    init(store: ResultStore, endpoint: RedisEndpoint, logger: Logger) {
        self.store = store
        self.endpoint = endpoint
        self.logger = logger
    }

    private func sharedSubscriber() throws -> RedisSubscriber {
        try subscriber.withLock { current in
            if let current { return current }
            let made = try RedisSubscriber(endpoint: endpoint, logger: logger,
                                           onMessage: { [weak self] channel, payload in self?.received(channel: channel, payload: payload) },
                                           onReconnect: { [weak self] in self?.recheckAll() })
            current = made
            return made
        }
    }

    /// Waits until the task is SUCCESS, FAILURE or REVOKED, or throws `timeout`.
    /// Cancelling the calling task stops the wait at once with `CancellationError`, also when
    /// it was cancelled before the wait began.
    func wait(for taskId: String, timeout: Double) async throws -> ResultMeta {
        try Task.checkCancellation()
        let key = ResultMeta.key(for: taskId)
        let subscriber = try sharedSubscriber()
        // Registered before anything can settle it, and settled by whichever comes first: a
        // cancellation that arrives before the caller waits is kept by the race, not lost.
        let outcome = FirstOutcome<ResultMeta, Error>()
        let (id, first) = state.withLock { s -> (UInt64, Bool) in
            s.nextToken += 1
            let isFirst = s.waiters[key]?.isEmpty ?? true
            s.waiters[key, default: [:]][s.nextToken] = outcome
            return (s.nextToken, isFirst)
        }
        outcome.onSettle { [weak self] in self?.forget(key: key, id: id) }
        let timer = Task {
            try? await Task.sleep(for: .sleeping(seconds: timeout))
            guard !Task.isCancelled else { return }
            outcome.settle(.failure(ConveyorError(.timeout, "no result for task \(taskId) within \(timeout) s")))
        }
        outcome.onSettle { timer.cancel() }
        Task { [weak self] in
            do {
                if first { try await subscriber.subscribe(key, timeout: max(1, min(timeout, 10))) }
                if let meta = try await self?.store.meta(for: taskId), meta.status.isReady {
                    self?.finishAll(key: key, with: meta)
                }
            } catch {
                outcome.settle(.failure(ConveyorError(.backendUnavailable, "result store unavailable: \(error)")))
            }
        }
        return try await outcome.value()
    }

    private func received(channel: String, payload: [UInt8]) {
        guard let meta = ResultMeta(bytes: payload), meta.status.isReady else { return }
        finishAll(key: channel, with: meta)
    }

    private func recheckAll() {
        let keys = state.withLock { Array($0.waiters.keys) }
        for key in keys {
            let taskId = String(key.dropFirst(ResultMeta.key(for: "").count))
            Task { [weak self] in
                if let meta = try? await self?.store.meta(for: taskId), meta.status.isReady {
                    self?.finishAll(key: key, with: meta)
                }
            }
        }
    }

    /// Settles every waiter on `key` and unsubscribes from it, also when none is left: a wait
    /// that ended (timeout, cancellation) while its subscription was still being made can leave
    /// the channel subscribed with nobody on it, and its final state is the moment to drop it.
    /// A caller that starts waiting on the same key just then reads the key after subscribing,
    /// and the state is already stored.
    private func finishAll(key: String, with meta: ResultMeta) {
        let waiters = state.withLock { s in s.waiters.removeValue(forKey: key).map { Array($0.values) } ?? [] }
        (try? sharedSubscriber())?.unsubscribe(key)
        for waiter in waiters { waiter.settle(.success(meta)) }
    }

    /// Drops one settled waiter; the channel goes when its last waiter does.
    private func forget(key: String, id: UInt64) {
        let wasLast = state.withLock { s -> Bool in
            guard s.waiters[key]?.removeValue(forKey: id) != nil else { return false }
            guard s.waiters[key]?.isEmpty ?? true else { return false }
            s.waiters[key] = nil
            return true
        }
        if wasLast { (try? sharedSubscriber())?.unsubscribe(key) }
    }

    func close() async {
        let current = subscriber.withLock { $0 }
        await current?.close()
    }
}
