@testable import AMQP
import IOSupport
import Testing

@Suite("Reconnect pacing: a connection that dies right after each connect is not retried in a tight loop")
struct ReconnectPacingTests {
    // No jitter below the ceiling matters here: floor = ceiling makes each delay exact.
    private func exactBackoff() -> Backoff { Backoff(base: 0.1, cap: 5, floor: 0) }

    @Test("failed connects count up and the ceiling grows to the cap")
    func failedConnects() {
        var pacing = ReconnectPacing(backoff: exactBackoff())
        var now = 0.0
        for expected in 1...8 {
            _ = pacing.failed(at: now)
            #expect(pacing.attempt == expected)
            now += 1
        }
        #expect(pacing.backoff.ceiling(attempt: pacing.attempt) == 5)
    }

    @Test("a connect that succeeds and dies at once does not start the count over")
    func connectThenFail() {
        var pacing = ReconnectPacing(backoff: exactBackoff(), stableAfter: 10)
        var now = 100.0
        var attempts: [Int] = []
        for _ in 0..<6 {
            pacing.connected(at: now)
            now += 0.01  // the broker closes the channel right after the connect
            let delay = pacing.failed(at: now)
            #expect(delay <= pacing.backoff.ceiling(attempt: pacing.attempt - 1))
            attempts.append(pacing.attempt)
            now += delay
        }
        #expect(attempts == [1, 2, 3, 4, 5, 6])
    }

    @Test("a connection that stayed up long enough earns a fresh start; one just short of it does not")
    func stableConnectionResets() {
        var pacing = ReconnectPacing(backoff: exactBackoff(), stableAfter: 10)
        for step in 0..<5 { _ = pacing.failed(at: Double(step)) }
        #expect(pacing.attempt == 5)
        pacing.connected(at: 100)
        _ = pacing.failed(at: 109.99)
        #expect(pacing.attempt == 6)
        pacing.connected(at: 200)
        _ = pacing.failed(at: 210)
        #expect(pacing.attempt == 1)
    }

    @Test("by default a connection must last 10 s, or the backoff cap if that is longer")
    func defaultStability() {
        #expect(ReconnectPacing(backoff: Backoff(base: 0.05, cap: 0.4)).stableAfter == 10)
        #expect(ReconnectPacing(backoff: Backoff(base: 1, cap: 30)).stableAfter == 30)
    }
}
