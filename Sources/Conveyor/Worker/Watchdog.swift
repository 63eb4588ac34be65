import Foundation
import IOSupport
import Synchronization

/// Fires deadlines from a thread of its own, so time limits hold even when a task body blocks
/// the few threads Swift concurrency has (one per core).
final class Watchdog: Sendable {
    /// The process-wide watchdog.
    static let shared = Watchdog()

    private struct Entry {
        let id: UInt64
        let deadline: Double
        let action: @Sendable () -> Void
    }

    private struct State {
        var entries: [Entry] = []
        var nextId: UInt64 = 0
        var started = false
    }

    private let state = Mutex(State())
    private let condition = NSCondition()

    /// Runs `action` on the watchdog thread after `seconds`; returns a handle for `cancel`.
    func schedule(after seconds: Double, _ action: @escaping @Sendable () -> Void) -> UInt64 {
        let deadline = monotonicSeconds() + seconds
        let (id, start) = state.withLock { s -> (UInt64, Bool) in
            s.nextId += 1
            s.entries.append(Entry(id: s.nextId, deadline: deadline, action: action))
            defer { s.started = true }
            return (s.nextId, !s.started)
        }
        if start {
            let thread = Thread { [weak self] in self?.loop() }
            thread.name = "conveyor:watchdog"
            thread.start()
        }
        condition.lock()
        condition.signal()
        condition.unlock()
        return id
    }

    /// Forgets a scheduled action that has not fired.
    func cancel(_ id: UInt64) {
        state.withLock { $0.entries.removeAll { $0.id == id } }
    }

    private func loop() {
        while true {
            let now = monotonicSeconds()
            let (due, next) = state.withLock { s -> ([Entry], Double?) in
                let due = s.entries.filter { $0.deadline <= now }
                if !due.isEmpty { s.entries.removeAll { $0.deadline <= now } }
                return (due, s.entries.map(\.deadline).min())
            }
            for entry in due { entry.action() }
            condition.lock()
            let wait = min(next.map { $0 - monotonicSeconds() } ?? 1, 1)
            if wait > 0 { _ = condition.wait(until: Date().addingTimeInterval(wait)) }
            condition.unlock()
        }
    }
}

extension TaskContext {
    /// Runs blocking code (a synchronous library, heavy CPU, blocking file I/O) on a thread of
    /// its own instead of one of Swift concurrency's few shared threads, which would otherwise
    /// stall every other task on this worker. A hard time limit stops waiting for it; the thread
    /// finishes on its own and its result is dropped.
    public func offload<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, Error>) in
            let thread = Thread { continuation.resume(with: Result { try body() }) }
            thread.name = "conveyor:offload"
            thread.start()
        }
    }
}
