import AMQP
import DequeModule
import Synchronization

/// Deliveries waiting for a worker slot, on one lane. The consumer's I/O step puts them in; the
/// lane's intake waits for the first one, then for a slot, and takes it and, without waiting,
/// whatever else is there, so a busy worker handles them in batches (one Redis round trip for
/// many tasks). A delivery stays here (`inspect reserved` lists it) until it has a slot.
final class DeliveryInbox: Sendable {
    private struct State {
        var queue = Deque<Delivery>()
        var waiter: CheckedContinuation<Bool, Never>?
        var finished = false
        /// Deliveries appended since the start.
        var received = 0
    }
    private let state = Mutex(State())

    /// From the consumer: one more delivery.
    func append(_ delivery: Delivery) {
        let waiter = state.withLock { s -> CheckedContinuation<Bool, Never>? in
            s.queue.append(delivery)
            s.received += 1
            defer { s.waiter = nil }
            return s.waiter
        }
        waiter?.resume(returning: true)
    }

    /// No more deliveries will come; `waitForDelivery` returns false once the inbox is empty.
    func finish() {
        let waiter = state.withLock { s -> CheckedContinuation<Bool, Never>? in
            s.finished = true
            defer { s.waiter = nil }
            return s.waiter
        }
        // A waiter waits only on an empty inbox: an append would have woken it.
        waiter?.resume(returning: false)
    }

    /// Waits until a delivery waits here (true, and it stays here for `poll`) or the inbox is
    /// finished and empty (false). One caller at a time.
    func waitForDelivery() async -> Bool {
        await withCheckedContinuation { (continuation: CheckedContinuation<Bool, Never>) in
            let ready = state.withLock { s -> Bool? in
                if !s.queue.isEmpty { return true }
                if s.finished { return false }
                s.waiter = continuation
                return nil
            }
            if let ready { continuation.resume(returning: ready) }
        }
    }

    /// The deliveries waiting for a slot now (`inspect reserved`).
    var waiting: [Delivery] { state.withLock { Array($0.queue) } }

    /// Deliveries appended since the start (what its lane's consumer received).
    var received: Int { state.withLock { $0.received } }

    /// How many deliveries wait for a slot now (`conveyor_reserved_tasks`).
    var count: Int { state.withLock { $0.queue.count } }

    /// A delivery if one is waiting, without waiting.
    func poll() -> Delivery? {
        state.withLock { $0.queue.popFirst() }
    }
}
