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
    private final class Waiter: Sendable {
        let continuation: CheckedContinuation<ResultMeta, Error>
        let timer = Mutex<Task<Void, Never>?>(nil)
        init(continuation: CheckedContinuation<ResultMeta, Error>) { self.continuation = continuation }
    }

    private struct State {
        var waiters: [String: [UInt64: Waiter]] = [:]
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
    /// Cancelling the calling task stops the wait with `CancellationError`.
    func wait(for taskId: String, timeout: Double) async throws -> ResultMeta {
        let key = ResultMeta.key(for: taskId)
        let subscriber = try sharedSubscriber()
        let id = state.withLock { s -> UInt64 in
            s.nextToken += 1
            return s.nextToken
        }
        return try await withTaskCancellationHandler {
            try await wait(key: key, id: id, taskId: taskId, timeout: timeout, subscriber: subscriber)
        } onCancel: {
            finish(key: key, id: id, with: .failure(CancellationError()))
        }
    }

    private func wait(key: String, id: UInt64, taskId: String, timeout: Double, subscriber: RedisSubscriber) async throws -> ResultMeta {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<ResultMeta, Error>) in
            let waiter = Waiter(continuation: continuation)
            let first = state.withLock { s -> Bool in
                let isFirst = s.waiters[key]?.isEmpty ?? true
                s.waiters[key, default: [:]][id] = waiter
                return isFirst
            }
            let timer = Task { [weak self] in
                try? await Task.sleep(for: .sleeping(seconds: timeout))
                guard !Task.isCancelled else { return }
                self?.finish(key: key, id: id, with: .failure(ConveyorError(.timeout, "no result for task \(taskId) within \(timeout) s")))
            }
            waiter.timer.withLock { $0 = timer }
            Task { [weak self] in
                do {
                    if first { try await subscriber.subscribe(key, timeout: max(1, min(timeout, 10))) }
                    if let meta = try await self?.store.meta(for: taskId), meta.status.isReady {
                        self?.finishAll(key: key, with: meta)
                    }
                } catch {
                    self?.finish(key: key, id: id, with: .failure(ConveyorError(.backendUnavailable, "result store unavailable: \(error)")))
                }
            }
        }
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

    private func finishAll(key: String, with meta: ResultMeta) {
        let waiters = state.withLock { s -> [Waiter] in
            let all = s.waiters.removeValue(forKey: key).map { Array($0.values) } ?? []
            return all
        }
        guard !waiters.isEmpty else { return }
        (try? sharedSubscriber())?.unsubscribe(key)
        for waiter in waiters {
            waiter.timer.withLock { $0?.cancel() }
            waiter.continuation.resume(returning: meta)
        }
    }

    private func finish(key: String, id: UInt64, with result: Result<ResultMeta, Error>) {
        let (waiter, empty) = state.withLock { s -> (Waiter?, Bool) in
            let removed = s.waiters[key]?.removeValue(forKey: id)
            let empty = s.waiters[key]?.isEmpty ?? true
            if empty { s.waiters[key] = nil }
            return (removed, empty)
        }
        guard let waiter else { return }
        if empty { (try? sharedSubscriber())?.unsubscribe(key) }
        waiter.timer.withLock { $0?.cancel() }
        waiter.continuation.resume(with: result)
    }

    func close() async {
        let current = subscriber.withLock { $0 }
        await current?.close()
    }
}
