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
/// `checkCancellation`). The hard limit stops waiting: the slot is freed, the failure recorded
/// and the task's subprocesses killed, but Swift cannot stop a body that ignores cancellation;
/// it keeps running in the background until it returns, and its result is discarded.
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
            var alarms: [UInt64] = []
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
            let (continuation, alarms) = state.withLock { s -> (CheckedContinuation<RunOutcome, Never>?, [UInt64]) in
                guard !s.settled else { return (nil, []) }
                s.settled = true
                let alarms = s.alarms
                guard let c = s.continuation else {
                    s.early = outcome
                    return (nil, alarms)
                }
                return (c, alarms)
            }
            alarms.forEach(Watchdog.shared.cancel)
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
        func addAlarm(_ id: UInt64) { state.withLock { $0.alarms.append(id) } }
    }

    static func run(_ task: RegisteredTask, context: TaskContext, soft: Double?, hard: Double?) async -> RunOutcome {
        // Without limits nothing races the body: run it in the caller's task, whose cancellation
        // (cold shutdown, revoke with terminate) it sees directly.
        guard soft != nil || hard != nil else {
            do {
                return .succeeded(try await task.body(context))
            } catch {
                return Task.isCancelled ? .cancelled : .failed(error)
            }
        }
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
                guard !race.isSettled else { return }
                // Limits fire from the watchdog thread, not from a Swift task: a body that blocks
                // the cooperative threads cannot delay them.
                if let soft, soft < (hard ?? .infinity) {
                    race.addAlarm(Watchdog.shared.schedule(after: soft) {
                        race.markSoftFired()
                        work.cancel()
                    })
                }
                if let hard {
                    race.addAlarm(Watchdog.shared.schedule(after: hard) {
                        // Settle first, so the body's reaction to cancellation cannot win the race.
                        race.settle(.hardTimeLimit(hard))
                        work.cancel()
                        context.children.signalAll(SIGKILL)
                    })
                }
            }
        } onCancel: {
            race.cancel()
        }
    }
}
