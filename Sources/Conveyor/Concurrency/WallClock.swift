import Foundation
import IOSupport

/// Wall-clock time and waiting for a moment in it: what the worker checks ETAs and expiry
/// against and waits for a near ETA with. Tests hand the worker a manual one and step it.
protocol WallClock: Sendable {
    /// The current time.
    var now: Date { get }

    /// Returns at `date` (at once when it has passed).
    /// - Throws: `CancellationError` when the calling task is cancelled first.
    func sleep(until date: Date) async throws
}

/// The real clock.
struct SystemWallClock: WallClock {
    var now: Date { Date() }

    func sleep(until date: Date) async throws {
        try await Task.sleep(for: .sleeping(seconds: date.timeIntervalSinceNow))
    }
}
