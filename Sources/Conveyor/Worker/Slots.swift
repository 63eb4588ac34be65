import DequeModule
import Synchronization

/// Execution slots: `acquire` waits for a free one, `release` frees one, `drained` waits until
/// every slot is free again. The worker's concurrency limit.
final class Slots: Sendable {
    private struct State {
        var free: Int
        var capacity: Int
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
            if let next = s.waiting.popFirst() { return (next, []) }
            s.free += 1
            guard s.free == s.capacity else { return (nil, []) }
            defer { s.drainWaiters.removeAll() }
            return (nil, s.drainWaiters)
        }
        next?.resume()
        drained.forEach { $0.resume() }
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
