import Foundation
import IOSupport
import Synchronization

/// Fires deadlines from a thread of its own, so time limits hold even when a task body blocks
/// the few threads Swift concurrency has (one per core).
///
/// The thread works in passes: fire what is due, note when the next deadline is, sleep until
/// then. A schedule that lands between noting the deadline and sleeping must not be slept
/// through, so every change rings a doorbell whose count the pass took *before* it looked at
/// the entries; the sleep returns at once when the count moved.
final class Watchdog: Sendable {
    /// The process-wide watchdog.
    static let shared = Watchdog(clock: SystemWatchdogClock())

    private struct Entry {
        let id: UInt64
        let deadline: Double
        let action: @Sendable () -> Void
    }

    private struct State {
        var entries: [Entry] = []
        var nextId: UInt64 = 0
        var started = false
        var stopped = false
    }

    /// What one pass saw: when the next deadline is, and the doorbell's count before it looked.
    struct Pass: Equatable {
        let next: Double?
        let ticket: UInt64
    }

    private let clock: any WatchdogClock
    private let ownThread: Bool
    private let state = Mutex(State())
    private let doorbell = Doorbell()

    /// - Parameters:
    ///   - clock: what the thread tells time by and waits on.
    ///   - ownThread: start the thread on the first schedule (tests that step the passes
    ///     themselves leave it off).
    init(clock: any WatchdogClock, ownThread: Bool = true) {
        self.clock = clock
        self.ownThread = ownThread
    }

    /// Runs `action` on the watchdog thread after `seconds`; returns a handle for `cancel`.
    func schedule(after seconds: Double, _ action: @escaping @Sendable () -> Void) -> UInt64 {
        let deadline = clock.now() + seconds
        let (id, start) = state.withLock { s -> (UInt64, Bool) in
            s.nextId += 1
            s.entries.append(Entry(id: s.nextId, deadline: deadline, action: action))
            defer { s.started = true }
            return (s.nextId, !s.started && ownThread)
        }
        if start {
            let thread = Thread { [weak self] in self?.loop() }
            thread.name = "conveyor:watchdog"
            thread.start()
        }
        doorbell.ring()
        return id
    }

    /// Forgets a scheduled action that has not fired. (No ring: the thread at worst wakes for
    /// a deadline that is gone and finds nothing due.)
    func cancel(_ id: UInt64) {
        state.withLock { $0.entries.removeAll { $0.id == id } }
    }

    /// Ends the thread after its current pass (for watchdogs that are not the shared one).
    func shutdown() {
        state.withLock { $0.stopped = true }
        doorbell.ring()
    }

    /// Fires every entry that is due.
    /// - Returns: the next deadline, and the doorbell count taken before the entries were read.
    func fireDue() -> Pass {
        let ticket = doorbell.count
        let now = clock.now()
        let (due, next) = state.withLock { s -> ([Entry], Double?) in
            let due = s.entries.filter { $0.deadline <= now }
            if !due.isEmpty { s.entries.removeAll { $0.deadline <= now } }
            return (due, s.entries.map(\.deadline).min())
        }
        for entry in due { entry.action() }
        return Pass(next: next, ticket: ticket)
    }

    /// Sleeps until the pass's next deadline, unless anything changed since the pass looked.
    func sleep(after pass: Pass) {
        doorbell.wait(unlessRungSince: pass.ticket, until: pass.next, clock: clock)
    }

    private func loop() {
        while !state.withLock({ $0.stopped }) {
            sleep(after: fireDue())
        }
    }
}

/// A count of changes that a sleeping thread can wait on without missing one.
private final class Doorbell: @unchecked Sendable {
    // `rings` is read and written only with `condition` locked.
    private let condition = NSCondition()
    private var rings: UInt64 = 0

    var count: UInt64 {
        condition.lock()
        defer { condition.unlock() }
        return rings
    }

    func ring() {
        condition.lock()
        rings &+= 1
        condition.broadcast()
        condition.unlock()
    }

    func wait(unlessRungSince ticket: UInt64, until deadline: Double?, clock: any WatchdogClock) {
        condition.lock()
        if rings == ticket { clock.wait(on: condition, until: deadline) }
        condition.unlock()
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
