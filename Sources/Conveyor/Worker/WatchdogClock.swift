import Foundation
import IOSupport

/// What the watchdog's thread tells time by and waits on; tests step a manual one by hand.
protocol WatchdogClock: Sendable {
    /// Monotonic seconds.
    func now() -> Double

    /// Blocks until `condition` is signalled or `deadline` (monotonic seconds; nil: none)
    /// passes. Called with `condition` locked, and returns with it locked. May return early:
    /// the caller looks again.
    func wait(on condition: NSCondition, until deadline: Double?)
}

/// The real clock: the monotonic clock, and the condition's own timed wait.
struct SystemWatchdogClock: WatchdogClock {
    func now() -> Double { monotonicSeconds() }

    func wait(on condition: NSCondition, until deadline: Double?) {
        guard let deadline else {
            condition.wait()
            return
        }
        let seconds = deadline - monotonicSeconds()
        guard seconds > 0 else { return }
        // A century at most: a huge limit must not overflow the date.
        _ = condition.wait(until: Date().addingTimeInterval(min(seconds, 3_155_760_000)))
    }
}
