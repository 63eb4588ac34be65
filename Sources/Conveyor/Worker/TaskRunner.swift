import Foundation
import IOSupport
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
    /// Shared between the body, the limit timers, the waiting caller and its cancellation
    /// handler: the first outcome wins (and cancels the timers).
    private final class Race: Sendable {
        private struct State {
            var softFired = false
            var cancelled = false
            var work: Task<Void, Never>?
        }
        private let first = FirstOutcome<RunOutcome, Never>()
        private let state = Mutex(State())

        func attach(_ continuation: CheckedContinuation<RunOutcome, Never>, work: Task<Void, Never>) {
            let cancelNow = state.withLock { s -> Bool in
                s.work = work
                return s.cancelled
            }
            first.attach(continuation)
            if cancelNow { work.cancel() }
        }

        /// - Returns: whether `outcome` was the first.
        @discardableResult
        func settle(_ outcome: RunOutcome) -> Bool {
            first.settle(.success(outcome))
        }

        /// The caller was cancelled (cold shutdown): cancel the body too.
        func cancel() {
            let work = state.withLock { s -> Task<Void, Never>? in
                s.cancelled = true
                return s.work
            }
            work?.cancel()
        }

        var isSettled: Bool { first.isSettled }
        var softLimitFired: Bool { state.withLock { $0.softFired } }
        func markSoftFired() { state.withLock { $0.softFired = true } }
        /// A watchdog alarm to cancel once the race is settled.
        func addAlarm(_ id: UInt64) { first.onSettle { Watchdog.shared.cancel(id) } }
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
                        // Settle first, so the body's reaction to cancellation cannot win the race;
                        // a body that returned just before the alarm keeps its outcome and its children.
                        guard race.settle(.hardTimeLimit(hard)) else { return }
                        work.cancel()
                        context.scope.signalAll(SIGKILL)
                    })
                }
            }
        } onCancel: {
            race.cancel()
        }
    }
}
