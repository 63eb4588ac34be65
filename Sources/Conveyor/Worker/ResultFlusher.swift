import AMQP
import Synchronization

/// Stores the results of succeeded tasks in batches, then acknowledges their messages.
///
/// A task body that returned hands its result here and frees its slot; whatever results
/// gathered while the previous batch was being written go to Redis in one round trip. Messages
/// are acknowledged only after their result is stored, and at most the prefetch count of them
/// can wait here, since the broker sends no more unacknowledged messages than that.
final class ResultFlusher: Sendable {
    /// A run's success on its way to Redis: its result and the run it came from. A class, as
    /// `Runnable`: the queue and batches hold a reference, not copies of its strings and arrays.
    final class Item: Sendable {
        let meta: ResultMeta
        let runnable: Runnable
        let runtime: String

        init(meta: ResultMeta, runnable: Runnable, runtime: String) {
            (self.meta, self.runnable, self.runtime) = (meta, runnable, runtime)
        }

        var delivery: Delivery { runnable.delivery }
        var task: String { runnable.message.task }
        /// Where its outcome is counted.
        var series: WorkerMetrics.TaskSeries { runnable.series }
    }

    private struct State {
        var pending: [Item] = []
        var flushing = false
        var idleWaiters: [CheckedContinuation<Void, Never>] = []
    }
    private let state = Mutex(State())
    private let loop: LoopExecutor

    init(loop: LoopExecutor) {
        self.loop = loop
    }
    /// What writes a batch (and settles its messages); it runs one batch at a time. Held weakly:
    /// it owns this flusher. A protocol call, not a stored async closure: calling a stored
    /// closure went through a reabstraction thunk whose task-allocator memory was not given
    /// back until the flushing task ended, and under a steady backlog that task never ends
    /// (heaptrack: 3.9 MB held after 400,000 tasks, growing with the backlog).
    private let store = Mutex(WeakStore())

    private struct WeakStore {
        weak var target: (any ResultBatchStore)?
    }

    func storeWith(_ target: any ResultBatchStore) {
        store.withLock { $0.target = target }
    }

    func submit(_ item: Item) {
        let start = state.withLock { s -> Bool in
            s.pending.append(item)
            defer { s.flushing = true }
            return !s.flushing
        }
        if start { Task(executorPreference: loop) { await self.flushLoop() } }
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
            await store.withLock { $0.target }?.storeSuccesses(batch)
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

/// Writes a batch of successes and settles their messages (the worker).
protocol ResultBatchStore: AnyObject, Sendable {
    func storeSuccesses(_ items: [ResultFlusher.Item]) async
}
