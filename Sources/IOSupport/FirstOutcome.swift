import Synchronization

/// The first of several racing outcomes resumes the waiting caller; later ones are ignored.
///
/// Used wherever a caller waits for whichever comes first: an I/O thread's reply or the
/// caller's cancellation (every AMQP and Redis call), the result or a failed publish or
/// cancellation (`call()`), a task body or its time limits. An outcome may arrive before the
/// caller's continuation is attached (a caller cancelled before it even waited); it is kept
/// until then, so no outcome is lost to the order in which they arrive.
public final class FirstOutcome<Value: Sendable, Failure: Error>: Sendable {
    private struct State {
        var continuation: CheckedContinuation<Value, Failure>?
        var early: Result<Value, Failure>?
        var settled = false
        var cleanup: [@Sendable () -> Void] = []
    }
    private let state = Mutex(State())

    /// An unsettled race.
    public init() {}

    /// Attaches the waiting caller; resumes it at once when an outcome is already in.
    /// - Parameters:
    ///   - continuation: the caller's continuation; attach one per race.
    public func attach(_ continuation: CheckedContinuation<Value, Failure>) {
        let early = state.withLock { s -> Result<Value, Failure>? in
            guard let early = s.early else {
                s.continuation = continuation
                return nil
            }
            s.early = nil
            return early
        }
        if let early { continuation.resume(with: early) }
    }

    /// Runs `action` once the race is settled (at once if it already is).
    /// - Parameters:
    ///   - action: a clean-up (cancel a timer, unsubscribe); it runs before the caller resumes.
    public func onSettle(_ action: @escaping @Sendable () -> Void) {
        let now = state.withLock { s -> Bool in
            if s.settled { return true }
            s.cleanup.append(action)
            return false
        }
        if now { action() }
    }

    /// Offers an outcome; only the first one counts.
    /// - Parameters:
    ///   - result: the outcome.
    /// - Returns: whether this one was the first.
    @discardableResult
    public func settle(_ result: Result<Value, Failure>) -> Bool {
        let won = state.withLock { s -> (continuation: CheckedContinuation<Value, Failure>?, cleanup: [@Sendable () -> Void])? in
            guard !s.settled else { return nil }
            s.settled = true
            defer { s.cleanup = [] }
            guard let continuation = s.continuation else {
                s.early = result
                return (nil, s.cleanup)
            }
            s.continuation = nil
            return (continuation, s.cleanup)
        }
        guard let won else { return false }
        won.cleanup.forEach { $0() }
        won.continuation?.resume(with: result)
        return true
    }

    /// Whether an outcome is in.
    public var isSettled: Bool { state.withLock { $0.settled } }
}

extension FirstOutcome where Failure == any Error {
    /// Waits for the outcome. Cancelling the waiting task settles the race with
    /// `CancellationError` at once, whatever else is still to come: the work that would have
    /// settled it is not stopped, its outcome is simply dropped.
    public func value() async throws -> Value {
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { attach($0) }
        } onCancel: {
            settle(.failure(CancellationError()))
        }
    }
}
