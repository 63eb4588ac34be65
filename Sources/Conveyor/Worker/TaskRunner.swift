import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// How one run of a task body ended.
enum RunOutcome: Sendable {
    case succeeded(JSON)
    case failed(any Error)
    /// Cancelled at the soft limit and did not return a value.
    case softTimeLimit(Double)
    /// Still running at the hard limit; the worker stopped waiting for it.
    case hardTimeLimit(Double)
    /// Cancelled by a cold shutdown or revoke.
    case cancelled
}

/// Runs a task body under its time limits.
///
/// The soft limit cancels the body's Swift task (cooperative: the body sees it through
/// `checkCancellation`). The hard limit stops waiting: the slot is freed and the failure
/// recorded, but Swift cannot stop a body that ignores cancellation; it keeps running in the
/// background until it returns, and its result is discarded.
enum TaskRunner {
    /// Shared between the body, the limit timer, the waiting caller and its cancellation
    /// handler; the first outcome wins.
    private final class Race: Sendable {
        private struct State {
            var continuation: CheckedContinuation<RunOutcome, Never>?
            var settled = false
            var softFired = false
            var cancelled = false
            var work: Task<Void, Never>?
            var timer: Task<Void, Never>?
            /// An outcome that arrived before the continuation was attached.
            var early: RunOutcome?
        }
        private let state = Mutex(State())

        func attach(_ continuation: CheckedContinuation<RunOutcome, Never>, work: Task<Void, Never>) {
            let (cancelNow, early) = state.withLock { s -> (Bool, RunOutcome?) in
                s.continuation = continuation
                s.work = work
                return (s.cancelled, s.early)
            }
            if let early {
                continuation.resume(returning: early)
            } else if cancelNow {
                work.cancel()
            }
        }

        func settle(_ outcome: RunOutcome) {
            let (continuation, timer) = state.withLock { s -> (CheckedContinuation<RunOutcome, Never>?, Task<Void, Never>?) in
                guard !s.settled else { return (nil, nil) }
                s.settled = true
                guard let c = s.continuation else {
                    s.early = outcome
                    return (nil, nil)
                }
                return (c, s.timer)
            }
            timer?.cancel()
            continuation?.resume(returning: outcome)
        }

        /// The caller was cancelled (cold shutdown): cancel the body too.
        func cancel() {
            let work = state.withLock { s -> Task<Void, Never>? in
                s.cancelled = true
                return s.work
            }
            work?.cancel()
        }

        var isSettled: Bool { state.withLock { $0.settled } }
        var softLimitFired: Bool { state.withLock { $0.softFired } }
        func markSoftFired() { state.withLock { $0.softFired = true } }
        func setTimer(_ task: Task<Void, Never>) { state.withLock { $0.timer = task } }
    }

    static func run(_ task: RegisteredTask, context: TaskContext, soft: Double?, hard: Double?) async -> RunOutcome {
        let race = Race()
        return await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<RunOutcome, Never>) in
                let work = Task {
                    do {
                        let value = try await task.body(context)
                        race.settle(.succeeded(value))
                    } catch {
                        if race.softLimitFired {
                            race.settle(.softTimeLimit(soft ?? 0))
                        } else if Task.isCancelled {
                            race.settle(.cancelled)
                        } else {
                            race.settle(.failed(error))
                        }
                    }
                }
                race.attach(continuation, work: work)
                guard soft != nil || hard != nil, !race.isSettled else { return }
                race.setTimer(Task {
                    var elapsed = 0.0
                    if let soft, soft < (hard ?? .infinity) {
                        try? await Task.sleep(for: .milliseconds(Int(soft * 1000)))
                        if Task.isCancelled { return }
                        race.markSoftFired()
                        work.cancel()
                        elapsed = soft
                    }
                    guard let hard else { return }
                    try? await Task.sleep(for: .milliseconds(Int(max(0, hard - elapsed) * 1000)))
                    if Task.isCancelled { return }
                    work.cancel()
                    context.children.signalAll(SIGKILL)
                    race.settle(.hardTimeLimit(hard))
                })
            }
        } onCancel: {
            race.cancel()
        }
    }
}
