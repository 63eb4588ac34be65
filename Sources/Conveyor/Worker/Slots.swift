import DequeModule
import Synchronization

/// Execution slots: `acquire` waits for a free one, `release` frees one, `drained` waits until
/// every slot is free again. The worker's concurrency limit.
final class Slots: Sendable {
    private struct State {
        var free: Int
        var capacity: Int
        /// Slots a shrink took away while they were in use: released ones pay this back first.
        var owed = 0
        var waiting: Deque<CheckedContinuation<Void, Never>> = []
        var drainWaiters: [CheckedContinuation<Void, Never>] = []
    }
    private let state: Mutex<State>

    init(_ capacity: Int) {
        state = Mutex(State(free: capacity, capacity: capacity))
    }

    func acquire() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let granted = state.withLock { s -> Bool in
                if s.free > 0 {
                    s.free -= 1
                    return true
                }
                s.waiting.append(continuation)
                return false
            }
            if granted { continuation.resume() }
        }
    }

    /// Takes a free slot if there is one, without waiting.
    func tryAcquire() -> Bool {
        state.withLock { s in
            guard s.free > 0 else { return false }
            s.free -= 1
            return true
        }
    }

    func release() {
        let (next, drained) = state.withLock { s -> (CheckedContinuation<Void, Never>?, [CheckedContinuation<Void, Never>]) in
            if s.owed > 0 {
                s.owed -= 1
            } else {
                if let next = s.waiting.popFirst() { return (next, []) }
                s.free += 1
            }
            guard s.free == s.capacity else { return (nil, []) }
            defer { s.drainWaiters.removeAll() }
            return (nil, s.drainWaiters)
        }
        next?.resume()
        drained.forEach { $0.resume() }
    }

    /// How many tasks may run at once now.
    var capacity: Int { state.withLock { $0.capacity } }

    /// Grows (positive `delta`) or shrinks the capacity, never below one. A shrink takes free
    /// slots away now and busy ones as they are released.
    /// - Returns: the new capacity.
    @discardableResult
    func resize(by delta: Int) -> Int {
        var woken: [CheckedContinuation<Void, Never>] = []
        let capacity = state.withLock { s -> Int in
            let target = min(max(1, s.capacity + delta), WorkerOptions.concurrencies.upperBound)
            var change = target - s.capacity
            s.capacity = target
            while change > 0 {
                change -= 1
                if s.owed > 0 {
                    s.owed -= 1
                } else if let next = s.waiting.popFirst() {
                    woken.append(next)
                } else {
                    s.free += 1
                }
            }
            while change < 0 {
                change += 1
                if s.free > 0 { s.free -= 1 } else { s.owed += 1 }
            }
            return target
        }
        woken.forEach { $0.resume() }
        return capacity
    }

    /// Returns once no slot is in use.
    func drained() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let done = state.withLock { s -> Bool in
                if s.free == s.capacity { return true }
                s.drainWaiters.append(continuation)
                return false
            }
            if done { continuation.resume() }
        }
    }
}
