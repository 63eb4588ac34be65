import IOSupport

/// When an I/O thread may connect again after a failure.
///
/// A connect that succeeds does not by itself prove the connection good: a broker that accepts
/// the login and then closes at once (a refused re-declaration, a message it can never take)
/// would otherwise be reconnected to in a tight loop. So the attempt count keeps growing across
/// successful connects, and starts over only once a connection has stayed up `stableAfter`
/// seconds (10 s, or the backoff's cap if longer: a connection that keeps dying sooner than
/// that reconnects at the capped pace). Time is passed in, so tests step it.
struct ReconnectPacing {
    let backoff: Backoff
    /// How long a connection must last before its loss counts as a first failure again.
    let stableAfter: Double
    /// Failures since the last connection that proved stable.
    private(set) var attempt = 0
    private var connectedAt: Double?

    init(backoff: Backoff, stableAfter: Double? = nil) {
        self.backoff = backoff
        self.stableAfter = stableAfter ?? max(10, backoff.cap)
    }

    /// A connect succeeded at `now`.
    mutating func connected(at now: Double) {
        connectedAt = now
    }

    /// A connect failed, or a connection was lost, at `now`.
    /// - Returns: seconds to wait before the next connect.
    mutating func failed(at now: Double) -> Double {
        if let since = connectedAt, now - since >= stableAfter { attempt = 0 }
        connectedAt = nil
        let delay = backoff.delay(attempt: attempt)
        attempt += 1
        return delay
    }
}
