import AMQP
import Synchronization

/// Stores the results of succeeded tasks in batches, then acknowledges their messages.
///
/// A task body that returned hands its result here and frees its slot; whatever results
/// gathered while the previous batch was being written go to Redis in one round trip. Messages
/// are acknowledged only after their result is stored, and at most the prefetch count of them
/// can wait here, since the broker sends no more unacknowledged messages than that.
final class ResultFlusher: Sendable {
    struct Item: Sendable {
        let meta: ResultMeta
        let delivery: Delivery
        let task: String
        let runtime: String
        /// Where its outcome is counted.
        let series: WorkerMetrics.TaskSeries
    }

    private struct State {
        var pending: [Item] = []
        var flushing = false
        var idleWaiters: [CheckedContinuation<Void, Never>] = []
    }
    private let state = Mutex(State())
    private let store = Mutex<(@Sendable ([Item]) async -> Void)?>(nil)

    /// Sets what writes a batch (and settles its messages); it runs one batch at a time.
    func storeWith(_ body: @escaping @Sendable ([Item]) async -> Void) {
        store.withLock { $0 = body }
    }

    func submit(_ item: Item) {
        let start = state.withLock { s -> Bool in
            s.pending.append(item)
            defer { s.flushing = true }
            return !s.flushing
        }
        if start { Task { await self.flushLoop() } }
    }

    private func flushLoop() async {
        while true {
            let batch = state.withLock { s -> [Item] in
                let batch = s.pending
                s.pending.removeAll(keepingCapacity: true)
                if batch.isEmpty { s.flushing = false }
                return batch
            }
            guard !batch.isEmpty else { break }
            await store.withLock { $0 }?(batch)
        }
        let waiters = state.withLock { s -> [CheckedContinuation<Void, Never>] in
            guard !s.flushing else { return [] }
            defer { s.idleWaiters.removeAll() }
            return s.idleWaiters
        }
        waiters.forEach { $0.resume() }
    }

    /// Returns once every submitted result is stored (or given up on).
    func drained() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let idle = state.withLock { s -> Bool in
                if !s.flushing && s.pending.isEmpty { return true }
                s.idleWaiters.append(continuation)
                return false
            }
            if idle { continuation.resume() }
        }
    }
}
