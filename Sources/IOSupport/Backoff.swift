/// Capped exponential backoff with full jitter, for reconnect loops.
///
/// Attempt `n` (from 0) waits a random time in `[0, min(cap, base * 2^n)]`, but never less than
/// `floor`, so a fleet that lost its broker at the same instant does not reconnect in lockstep.
public struct Backoff: Sendable, Equatable {
    /// The first ceiling, in seconds.
    public var base: Double
    /// The largest ceiling, in seconds.
    public var cap: Double
    /// The smallest wait, in seconds.
    public var floor: Double

    /// - Parameters:
    ///   - base: ceiling of the first wait, seconds.
    ///   - cap: largest ceiling, seconds.
    ///   - floor: smallest wait, seconds.
    public init(base: Double = 0.1, cap: Double = 5, floor: Double = 0.05) {
        self.base = base
        self.cap = cap
        self.floor = floor
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
