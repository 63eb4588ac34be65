import AMQP
import DequeModule
import Synchronization

/// Deliveries waiting for a worker slot. The consumer's I/O thread puts them in; the intake
/// loop takes the first one when it arrives and then, without waiting, whatever else is there,
/// so a busy worker handles them in batches (one Redis round trip for many tasks).
final class DeliveryInbox: Sendable {
    private struct State {
        var queue = Deque<Delivery>()
        var waiter: CheckedContinuation<Delivery?, Never>?
        var finished = false
    }
    private let state = Mutex(State())

    /// From the consumer: one more delivery.
    func append(_ delivery: Delivery) {
        let waiter = state.withLock { s -> CheckedContinuation<Delivery?, Never>? in
            if let waiter = s.waiter {
                s.waiter = nil
                return waiter
            }
            s.queue.append(delivery)
            return nil
        }
        waiter?.resume(returning: delivery)
    }

    /// No more deliveries will come; `next` returns nil once the inbox is empty.
    func finish() {
        let waiter = state.withLock { s -> CheckedContinuation<Delivery?, Never>? in
            s.finished = true
            defer { s.waiter = nil }
            return s.waiter
        }
        waiter?.resume(returning: nil)
    }

    /// Waits for a delivery; nil when finished and empty. One caller at a time.
    func next() async -> Delivery? {
        await withCheckedContinuation { (continuation: CheckedContinuation<Delivery?, Never>) in
            let ready = state.withLock { s -> Delivery?? in
                if let first = s.queue.popFirst() { return .some(first) }
                if s.finished { return .some(nil) }
                s.waiter = continuation
                return nil
            }
            if let ready { continuation.resume(returning: ready) }
        }
    }

    /// The deliveries waiting for a slot now (`inspect reserved`).
    var waiting: [Delivery] { state.withLock { Array($0.queue) } }

    /// How many deliveries wait for a slot now (`conveyor_reserved_tasks`).
    var count: Int { state.withLock { $0.queue.count } }

    /// A delivery if one is waiting, without waiting.
    func poll() -> Delivery? {
        state.withLock { $0.queue.popFirst() }
    }
}
