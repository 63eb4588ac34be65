import Foundation

/// Whether a run may start under its task's concurrency cap.
enum CapEntry: Sendable {
    /// The task has no cap.
    case uncapped
    /// A slot is held for the run; leave it when the run's outcome is recorded.
    case held(CapLease)
    /// The cap was full and the run was deferred (or Redis was down and it was requeued):
    /// nothing more to do.
    case settled

    /// Frees the slot, if one is held.
    func leave() async {
        if case let .held(slot) = self { try? await slot.release() }
    }
}

extension Worker {
    /// Takes a slot of the task's concurrency cap before its body runs, or defers the run
    /// (reason `concurrency`) when the cap is full; a Redis outage past the store window
    /// requeues the delivery.
    func enterConcurrencyCap(_ runnable: Runnable) async -> CapEntry {
        guard let cap = runnable.task.defaults.concurrencyCap else { return .uncapped }
        let message = runnable.message
        let key = cap.key(task: message.task, args: message.args, kwargs: message.kwargs)
        let caps = ConcurrencyCaps(client: client)
        // The member is unique per run: a duplicate delivery of the same id running elsewhere
        // holds its own slot.
        let holder = "\(options.hostname) \(message.id) \(UUID().uuidString.prefix(8))"
        let attempt: CapLease?? = await withStoreRetries(taskId: message.id, delivery: runnable.delivery) {
            try await caps.tryAcquire(key, limit: cap.limit, lease: cap.lease, holder: holder)
        }
        switch attempt {
        case .none:
            return .settled
        case let .some(.some(slot)):
            return .held(slot)
        case .some(.none):
            await deferRun(message, delivery: runnable.delivery, deferral: TaskDeferral(after: cap.retryAfter, reason: "concurrency"),
                           started: startedMeta(runnable) != nil, runtime: "0.000000")
            return .settled
        }
    }
}
