import IOSupport
import Redis
import Synchronization

/// Keeps a lease alive while its holder works: renews it every third of its length, and
/// declares it lost when a renewal finds it gone, or when no renewal succeeded before it would
/// have run out (Redis unreachable): the holder's own clock, counted from when the last
/// successful renewal was sent, so it never believes in a lease Redis may already have dropped.
///
/// Losing it runs the `onLost` handlers once. Shared by locks and concurrency caps.
final class LeaseKeeper: Sendable {
    private struct State {
        /// Monotonic seconds until which the lease surely holds.
        var validUntil: Double
        var lost = false
        var stopped = false
        var handlers: [@Sendable () -> Void] = []
        var renewal: Task<Void, Never>?
        /// The last renewal failed (Redis unreachable or slow): the next one comes sooner.
        var failing = false
        var renewals = 0
    }

    let leaseSeconds: Double
    private let state: Mutex<State>
    private let renew: @Sendable (_ timeout: Double) async throws -> Bool
    private let executor: (any TaskExecutor)?

    /// - Parameters:
    ///   - leaseSeconds: the lease's length.
    ///   - sentAt: monotonic time the acquiring command was sent.
    ///   - executor: where the renewals run; the shared pool when nil.
    ///   - renew: extends the lease in Redis; false when it is gone.
    init(leaseSeconds: Double, sentAt: Double, executor: (any TaskExecutor)? = nil,
         renew: @escaping @Sendable (_ timeout: Double) async throws -> Bool) {
        self.leaseSeconds = leaseSeconds
        self.renew = renew
        self.executor = executor
        state = Mutex(State(validUntil: sentAt + leaseSeconds))
    }

    /// Where the renewals of a lease kept over `redis` run: the worker's loop when it hosts the
    /// connection. A task body that blocks the shared pool's few threads (or many that wait
    /// there) would otherwise hold the renewals up while the holder itself, on the loop, goes on,
    /// and the lease would run out under a holder that is working.
    static func renewalExecutor(for redis: RedisConnection) -> (any TaskExecutor)? {
        redis.host as? any TaskExecutor
    }

    deinit {
        state.withLock { $0.renewal?.cancel() }
    }

    /// Starts renewing (once).
    func start() {
        // Weak: a holder that drops its lease without releasing it must not be kept alive (and
        // renewed for ever) by its own renewal task.
        let task = Task(executorPreference: executor) { [weak self] in
            while let interval = self?.nextInterval() {
                do {
                    try await Task.sleep(for: .milliseconds(Int64(interval * 1000)))
                } catch {
                    return
                }
                guard let self else { return }
                await self.renewOnce()
            }
        }
        state.withLock { $0.renewal = task }
    }

    /// Seconds to the next renewal, or nil when there is nothing more to do.
    private func nextInterval() -> Double? {
        state.withLock { s -> Double? in
            guard !s.lost, !s.stopped else { return nil }
            let untilEnd = s.validUntil - monotonicSeconds()
            // A third of the lease (a tenth after a failed renewal), never past the moment it
            // would run out.
            return max(0.001, min(leaseSeconds / (s.failing ? 10 : 3), untilEnd))
        }
    }

    private func renewOnce() async {
        let sentAt = monotonicSeconds()
        let untilEnd = state.withLock { $0.validUntil } - sentAt
        guard untilEnd > 0 else {
            markLost()
            return
        }
        do {
            // A slow answer still counts if it comes before the lease would end.
            if try await renew(untilEnd) {
                state.withLock { s in
                    s.validUntil = max(s.validUntil, sentAt + leaseSeconds)
                    s.failing = false
                    s.renewals += 1
                }
            } else {
                markLost()
            }
        } catch {
            // Redis unreachable or slow: tried again soon; lost once the lease would have ended.
            state.withLock { $0.failing = true }
        }
    }

    /// Successful renewals so far (tests read it).
    var renewals: Int { state.withLock { $0.renewals } }

    /// Whether the lease surely still holds (not lost, not released, not past its end).
    var isHeld: Bool {
        state.withLock { !$0.lost && !$0.stopped && monotonicSeconds() < $0.validUntil }
    }

    /// Whether it was lost (not merely released).
    var wasLost: Bool {
        state.withLock { s in s.lost || (!s.stopped && monotonicSeconds() >= s.validUntil) }
    }

    /// Runs `handler` once when the lease is lost (at once when it already was).
    func onLost(_ handler: @escaping @Sendable () -> Void) {
        let now = state.withLock { s -> Bool in
            if s.lost { return true }
            s.handlers.append(handler)
            return false
        }
        if now { handler() }
    }

    /// Stops renewing (the holder released it).
    /// - Returns: whether it was still held until now.
    @discardableResult
    func stop() -> Bool {
        let (task, held) = state.withLock { s -> (Task<Void, Never>?, Bool) in
            let held = !s.lost && !s.stopped && monotonicSeconds() < s.validUntil
            s.stopped = true
            s.handlers = []
            defer { s.renewal = nil }
            return (s.renewal, held)
        }
        task?.cancel()
        return held
    }

    private func markLost() {
        let handlers = state.withLock { s -> [@Sendable () -> Void] in
            guard !s.lost, !s.stopped else { return [] }
            s.lost = true
            defer { s.handlers = [] }
            return s.handlers
        }
        for handler in handlers { handler() }
    }
}
