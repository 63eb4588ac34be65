@testable import Conveyor
import Synchronization
import Testing
import TestSupport

/// The watchdog fires time limits from its own thread. It must never sleep through a deadline
/// that was scheduled while it was deciding how long to sleep.
@Suite("watchdog")
struct WatchdogTests {
    /// The interleaving that used to lose the wake-up, stepped by hand: the pass has looked at
    /// the entries (only a deadline at 10 s), then a deadline at 1 s is scheduled, then the
    /// thread goes to sleep. It must not sleep until 10 s.
    @Test("a deadline scheduled between a pass and its sleep is not slept through")
    func scheduleBetweenPassAndSleep() {
        let clock = ManualWatchdogClock(blocks: false)
        let watchdog = Watchdog(clock: clock, ownThread: false)
        let fired = Mutex<[String]>([])
        _ = watchdog.schedule(after: 10) { fired.withLock { $0.append("late") } }

        let pass = watchdog.fireDue()
        #expect(pass.next == 10)
        _ = watchdog.schedule(after: 1) { fired.withLock { $0.append("early") } }
        watchdog.sleep(after: pass)
        // Returned without waiting at all: the schedule rang the doorbell after the pass looked.
        #expect(clock.waits.isEmpty)

        // The next pass sees the new deadline and sleeps only until it.
        let next = watchdog.fireDue()
        #expect(next.next == 1)
        watchdog.sleep(after: next)
        #expect(clock.waits == [1])
        clock.advance(by: 1)
        _ = watchdog.fireDue()
        #expect(fired.withLock { $0 } == ["early"])
        clock.advance(by: 9)
        _ = watchdog.fireDue()
        #expect(fired.withLock { $0 } == ["early", "late"])
    }

    @Test("a sleep with nothing changed since the pass waits for the pass's deadline")
    func sleepWithoutChange() {
        let clock = ManualWatchdogClock(blocks: false)
        let watchdog = Watchdog(clock: clock, ownThread: false)
        _ = watchdog.schedule(after: 3) {}
        watchdog.sleep(after: watchdog.fireDue())
        #expect(clock.waits == [3])
    }

    /// The same, with the watchdog's own thread running: it re-plans for the earlier deadline
    /// as soon as it is scheduled, fires each at its time, and a cancelled one never.
    @Test("the running watchdog re-plans for an earlier deadline and fires each in order")
    func runningThread() async throws {
        let clock = ManualWatchdogClock(blocks: true)
        let watchdog = Watchdog(clock: clock)
        defer { watchdog.shutdown() }
        let fired = Mutex<[String]>([])
        _ = watchdog.schedule(after: 10) { fired.withLock { $0.append("at 10") } }
        try await eventually(timeout: 60, "the watchdog sleeping until 10") { clock.waits.last == 10 }

        _ = watchdog.schedule(after: 1) { fired.withLock { $0.append("at 1") } }
        let cancelled = watchdog.schedule(after: 5) { fired.withLock { $0.append("cancelled at 5") } }
        watchdog.cancel(cancelled)
        try await eventually(timeout: 60, "the watchdog sleeping until 1") { clock.waits.last == 1 }

        clock.advance(by: 1)
        try await eventually(timeout: 60, "the deadline at 1 firing") { fired.withLock { $0 } == ["at 1"] }
        try await eventually(timeout: 60, "the watchdog sleeping until 10 again") { clock.waits.last == 10 }
        clock.advance(by: 9)
        try await eventually(timeout: 60, "the deadline at 10 firing") { fired.withLock { $0 }.count == 2 }
        #expect(fired.withLock { $0 } == ["at 1", "at 10"])
    }
}
