import Foundation

/// Starts a named OS thread for a blocking C client.
///
/// Task bodies and Swift concurrency never run here; the thread only talks to its socket and
/// its `CommandQueue`.
public enum IOThread {
    /// Runs `body` on a new thread called `name` (visible in `top -H` and debuggers).
    public static func start(name: String, _ body: @escaping @Sendable () -> Void) {
        let thread = Thread { body() }
        thread.name = name
        thread.stackSize = 1 << 20
        thread.start()
    }
}

/// Monotonic seconds, for deadlines that must not jump with the wall clock.
public func monotonicSeconds() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
}

extension Duration {
    /// `seconds` as something to sleep or wait for, whatever the number: NaN and negatives are
    /// zero, and anything beyond a century is a century (converting a huge Double to integer
    /// milliseconds would trap).
    public static func sleeping(seconds: Double) -> Duration {
        .milliseconds(Int64(boundedSeconds(seconds) * 1000))
    }
}

/// NaN and negatives as 0, anything beyond a century as a century: safe to convert to integers.
private func boundedSeconds(_ seconds: Double) -> Double {
    seconds > 0 ? min(seconds, 3_155_760_000) : 0
}

/// `seconds` as a C `timeval` for a timeout, clamped like `Duration.sleeping(seconds:)` (NaN and
/// negatives are zero, at most a century) so that no number can trap the conversion.
public func timeoutValue(seconds: Double) -> timeval {
    // A positive timeout stays positive (hiredis reads {0, 0} as none at all).
    let clamped = seconds > 0 ? max(boundedSeconds(seconds), 0.001) : 0
    let whole = Int(clamped)
    return timeval(tv_sec: whole, tv_usec: Int((clamped - Double(whole)) * 1_000_000))
}
