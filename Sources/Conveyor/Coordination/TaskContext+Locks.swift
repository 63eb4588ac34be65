/// What a task does when the lock it asks for is held by someone else.
public struct LockBusyPolicy: Sendable {
    enum Kind: Sendable {
        case deferRun(after: Double?)
        case wait(Duration)
        case fail
    }
    let kind: Kind

    /// Defers the task (`TaskDeferral`, reason `lock`): it is published again with a later ETA
    /// and stays PENDING, without holding a worker slot or counting a retry. `after` seconds
    /// (finite, 0 or more); when nil, the holder's remaining lease, 1 to 30 s.
    public static func deferRun(after seconds: Double? = nil) -> LockBusyPolicy { .init(kind: .deferRun(after: seconds)) }
    /// Waits in the slot, up to `duration`, then throws `LockError.Code.busy`.
    public static func wait(_ duration: Duration) -> LockBusyPolicy { .init(kind: .wait(duration)) }
    /// Throws `LockError.Code.busy` at once.
    public static let fail = LockBusyPolicy(kind: .fail)
}

extension TaskContext {
    /// Fenced locks held by this run (holder: worker host name and task id).
    public var locks: Locks { Locks(client: client, holder: "\(hostname) \(id)") }

    /// Runs `body` holding the lock `name`, renewed while it runs, released however it ends.
    ///
    /// ```swift
    /// try await context.withLock("repo:\(name)", lease: .seconds(60)) { lease in
    ///     try await fence.write(indexed, token: lease.token)
    /// }
    /// ```
    ///
    /// - Parameters:
    ///   - name: the lock, 1 to 512 bytes of UTF-8.
    ///   - lease: 1 ms to 30 days; renewed every third of it.
    ///   - whenBusy: `.deferRun()` (the default: the task runs again later, PENDING meanwhile,
    ///     counted as deferred with reason `lock`), `.wait(duration)` or `.fail`.
    /// - Throws: `TaskDeferral` (let it propagate: the worker defers the run),
    ///   `LockError.Code.busy` or `.lost` (the lease ran out while `body` ran; `body` was
    ///   cancelled), `ConveyorError.Code.invalidArguments` for a bad name, lease or delay, or
    ///   what `body` throws.
    public func withLock<T: Sendable>(_ name: String, lease: Duration, whenBusy: LockBusyPolicy = .deferRun(),
                                      _ body: @escaping @Sendable (LockLease) async throws -> T) async throws -> T {
        let locks = self.locks
        switch whenBusy.kind {
        case let .wait(duration):
            return try await locks.withLock(name, lease: lease, wait: duration, body)
        case .fail:
            return try await locks.withLock(name, lease: lease, body)
        case let .deferRun(after):
            if let after, !(after.isFinite && after >= 0) {
                throw ConveyorError(.invalidArguments, "deferRun(after:) must be a finite number of seconds, 0 or more, not \(after)")
            }
            let held: LockLease
            do {
                held = try await locks.acquire(name, lease: lease)
            } catch let error as LockError where error.code == .busy {
                var delay = after ?? 1
                if after == nil, let remaining = try? await locks.remainingLease(name) { delay = min(30, max(1, remaining)) }
                throw deferral(after: delay, reason: "lock")
            }
            // Only the acquisition defers: a busy lock inside `body` is `body`'s own error.
            return try await Locks.run(held, body)
        }
    }
}

extension Locks {
    /// Seconds left of the lease on `name`, or nil when it is free.
    func remainingLease(_ name: String) async throws -> Double? {
        let milliseconds = try await redis.send("PTTL", Keys.lock(name)).integer ?? -2
        return milliseconds >= 0 ? Double(milliseconds) / 1000 : nil
    }
}
