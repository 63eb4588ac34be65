/// When an I/O thread may connect again after a failure (AMQP and Redis connections alike).
///
/// A connect that succeeds does not by itself prove the connection good: a broker that accepts
/// the login and then closes at once (a refused re-declaration, a message it can never take)
/// would otherwise be reconnected to in a tight loop. So the attempt count keeps growing across
/// successful connects, and starts over only once a connection has stayed up `stableAfter`
/// seconds (10 s, or the backoff's cap if longer: a connection that keeps dying sooner than
/// that reconnects at the capped pace). Time is passed in, so tests step it.
public struct ReconnectPacing: Sendable {
    /// The pace of consecutive failures.
    public let backoff: Backoff
    /// How long a connection must last before its loss counts as a first failure again.
    public let stableAfter: Double
    /// Failures since the last connection that proved stable.
    public private(set) var attempt = 0
    private var connectedAt: Double?

    /// - Parameters:
    ///   - backoff: the pace of consecutive failures.
    ///   - stableAfter: seconds a connection must last before its loss counts as a first failure
    ///     again; by default 10, or the backoff's cap if longer.
    public init(backoff: Backoff, stableAfter: Double? = nil) {
        self.backoff = backoff
        self.stableAfter = stableAfter ?? max(10, backoff.cap)
    }

    /// A connect succeeded at `now`.
    public mutating func connected(at now: Double) {
        connectedAt = now
    }

    /// A connect failed, or a connection was lost, at `now`.
    /// - Returns: seconds to wait before the next connect.
    public mutating func failed(at now: Double) -> Double {
        if let since = connectedAt, now - since >= stableAfter { attempt = 0 }
        connectedAt = nil
        let delay = backoff.delay(attempt: attempt)
        attempt += 1
        return delay
    }
}
