/// Runs `body` to its end even when the calling task is cancelled, and waits for it.
///
/// For bookkeeping that must finish once the work it records is over (storing a task's
/// outcome, requeueing or acknowledging its message): every Redis and AMQP call ends at once
/// for a cancelled caller, so a cold shutdown or a terminate that cancels a run would otherwise
/// leave its outcome unrecorded. `body` is bounded by the timeouts of the calls it makes.
func runToCompletion<T: Sendable>(_ body: @escaping @Sendable () async -> T) async -> T {
    // An unstructured task does not inherit the caller's cancellation.
    await Task { await body() }.value
}
