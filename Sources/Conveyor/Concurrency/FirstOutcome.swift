import Synchronization

/// The first of several racing outcomes resumes the waiting caller; later ones are ignored.
///
/// Used where a caller waits for whichever comes first: `call()` (the result, or a failed
/// publish, or cancellation) and a task run (the body, its time limits, or cancellation). An
/// outcome may arrive before the caller's continuation is attached; it is kept until then.
final class FirstOutcome<Value: Sendable, Failure: Error>: Sendable {
    private struct State {
        var continuation: CheckedContinuation<Value, Failure>?
        var early: Result<Value, Failure>?
        var settled = false
        var cleanup: [@Sendable () -> Void] = []
    }
    private let state = Mutex(State())

    /// Attaches the waiting caller; resumes it at once when an outcome is already in.
    func attach(_ continuation: CheckedContinuation<Value, Failure>) {
        let early = state.withLock { s -> Result<Value, Failure>? in
            s.continuation = continuation
            return s.early
        }
        if let early { continuation.resume(with: early) }
    }

    /// Runs `action` once the race is settled (at once if it already is).
    func onSettle(_ action: @escaping @Sendable () -> Void) {
        let now = state.withLock { s -> Bool in
            if s.settled { return true }
            s.cleanup.append(action)
            return false
        }
        if now { action() }
    }

    /// Offers an outcome; only the first one counts.
    /// - Returns: whether this one was the first.
    @discardableResult
    func settle(_ result: Result<Value, Failure>) -> Bool {
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
    var isSettled: Bool { state.withLock { $0.settled } }
}

extension Result where Failure == Error {
    /// The outcome of an async throwing call.
    init(catching body: () async throws -> Success) async {
        do {
            self = .success(try await body())
        } catch {
            self = .failure(error)
        }
    }
}
