/// Capped exponential backoff with full jitter, for reconnect loops.
///
/// Attempt `n` (from 0) waits a random time in `[0, min(cap, base * 2^n)]`, but never less than
/// `floor`, so a fleet that lost its broker at the same instant does not reconnect in lockstep.
///
/// Every setting is clamped to `Backoff.seconds` (0 to an hour; NaN is 0), in `init` and when
/// set later, so no value can trap the random draw or make a reconnect loop wait for ever.
public struct Backoff: Sendable, Equatable {
    /// What each setting is clamped to, seconds.
    public static let seconds = 0.0...3600.0

    /// The first ceiling, in seconds, clamped to `Backoff.seconds`.
    public var base: Double { didSet { base = Backoff.clamped(base) } }
    /// The largest ceiling, in seconds, clamped to `Backoff.seconds`.
    public var cap: Double { didSet { cap = Backoff.clamped(cap) } }
    /// The smallest wait, in seconds, clamped to `Backoff.seconds`.
    public var floor: Double { didSet { floor = Backoff.clamped(floor) } }

    /// - Parameters:
    ///   - base: ceiling of the first wait, seconds.
    ///   - cap: largest ceiling, seconds.
    ///   - floor: smallest wait, seconds.
    public init(base: Double = 0.1, cap: Double = 5, floor: Double = 0.05) {
        self.base = Backoff.clamped(base)
        self.cap = Backoff.clamped(cap)
        self.floor = Backoff.clamped(floor)
    }

    private static func clamped(_ value: Double) -> Double {
        value.isNaN ? 0 : min(max(value, seconds.lowerBound), seconds.upperBound)
    }

    /// The ceiling for `attempt` before jitter.
    public func ceiling(attempt: Int) -> Double {
        let exponent = Double(min(max(attempt, 0), 30))
        return min(cap, base * pow2(exponent))
    }

    /// A jittered wait for `attempt`, in seconds.
    public func delay(attempt: Int) -> Double {
        let ceiling = self.ceiling(attempt: attempt)
        return max(floor, Double.random(in: 0...max(ceiling, floor)))
    }

    private func pow2(_ exponent: Double) -> Double {
        var result = 1.0
        for _ in 0..<Int(exponent) { result *= 2 }
        return result
    }
}
