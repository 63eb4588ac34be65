@testable import AMQP
import IOSupport
import Synchronization
import Testing

/// What a publish ended with, for a test to read.
private final class Outcome: Sendable {
    private let result = Mutex<Result<Void, AMQPError>?>(nil)
    var value: Result<Void, AMQPError>? { result.withLock { $0 } }
    func record(_ outcome: Result<Void, AMQPError>) { result.withLock { $0 = outcome } }
}

private func pending(_ queue: String = "q", deadline: Double = 100) -> (PendingPublish, Outcome) {
    let outcome = Outcome()
    let pending = PendingPublish(message: OutgoingMessage(routingKey: queue, body: [1]), deadline: deadline) { outcome.record($0) }
    return (pending, outcome)
}

@Suite("Publishes the broker refused are tried again, paced, until their deadline")
struct RefusedPublishesTests {
    /// Exactly one second before every round: no jitter to reason about.
    let oneSecond = Backoff(base: 1, cap: 1, floor: 1)

    @Test("a nack hands the publish back unfinished; its ack after a retry says retrying works")
    func nackHandsBack() {
        let tracker = ConfirmTracker()
        let (first, firstOutcome) = pending()
        let (second, secondOutcome) = pending()
        tracker.sent(first)
        tracker.sent(second)
        let refused = tracker.confirm(tag: 2, multiple: true, acknowledged: false)
        #expect(refused.refused.count == 2)
        #expect(refused.refused.allSatisfy { $0.refusals == 1 })
        #expect(firstOutcome.value == nil && secondOutcome.value == nil)
        #expect(tracker.isEmpty)

        tracker.sent(first)
        let acknowledged = tracker.confirm(tag: 3, multiple: false, acknowledged: true)
        #expect(acknowledged.retryAcknowledged)
        #expect(acknowledged.refused.isEmpty)
        #expect(firstOutcome.value.map { (try? $0.get()) != nil } == true)
    }

    @Test("an ack of a publish never refused does not count as a working retry")
    func plainAck() {
        let tracker = ConfirmTracker()
        let (message, _) = pending()
        tracker.sent(message)
        #expect(!tracker.confirm(tag: 1, multiple: false, acknowledged: true).retryAcknowledged)
    }

    @Test("a refusal schedules one round a backoff later; refusals meanwhile join it, oldest first")
    func roundsGather() {
        let refused = RefusedPublishes(backoff: oneSecond)
        let (a, _) = pending()
        let (b, _) = pending()
        refused.hold([a], now: 10)
        #expect(refused.retryAt == 11)
        refused.hold([b], now: 10.5)
        #expect(refused.retryAt == 11)
        #expect(!refused.isDue(now: 10.99))
        #expect(refused.takeDue(now: 10.99).isEmpty)
        let due = refused.takeDue(now: 11)
        #expect(due.map(ObjectIdentifier.init) == [ObjectIdentifier(a), ObjectIdentifier(b)])
        #expect(refused.isEmpty && refused.retryAt == nil)
    }

    @Test("each round that brings no acknowledged retry waits up to a longer ceiling; one acknowledged retry starts over")
    func pacingGrowsAndResets() {
        let backoff = Backoff(base: 0.1, cap: 1, floor: 0.05)
        let refused = RefusedPublishes(backoff: backoff)
        var now = 0.0
        for round in 0..<6 {
            #expect(refused.round == round)
            let (message, _) = pending()
            refused.hold([message], now: now)
            let wait = (refused.retryAt ?? .infinity) - now
            // Within a rounding error of the floor and the round's ceiling.
            #expect(wait >= backoff.floor - 1e-9 && wait <= backoff.ceiling(attempt: round) + 1e-9)
            now += wait
            #expect(refused.takeDue(now: now).count == 1)
        }
        #expect(backoff.ceiling(attempt: refused.round) == backoff.cap)
        refused.retryAcknowledged()
        #expect(refused.round == 0)
    }

    @Test("a held publish past its deadline fails as refused, saying how often and why; others wait on")
    func expiresWithReason() throws {
        let refused = RefusedPublishes(backoff: oneSecond)
        let (late, lateOutcome) = pending("jobs", deadline: 5)
        let (timely, timelyOutcome) = pending("jobs", deadline: 50)
        late.refusals = 3
        timely.refusals = 1
        refused.hold([late, timely], now: 4)
        refused.expire(now: 4.9)
        #expect(lateOutcome.value == nil)
        refused.expire(now: 5)
        let failure = try #require(lateOutcome.value)
        guard case let .failure(error) = failure else {
            Issue.record("a publish refused until its deadline succeeded")
            return
        }
        #expect(error.code == .nacked)
        #expect(error.message.contains("'jobs'") && error.message.contains("3 times") && error.message.contains("reject-publish"))
        #expect(timelyOutcome.value == nil)
        #expect(refused.count == 1 && refused.retryAt == 5)
    }

    @Test("a round due after a held publish's deadline fails it as refused instead of sending it again")
    func dueAfterDeadline() throws {
        let refused = RefusedPublishes(backoff: oneSecond)
        let (message, outcome) = pending("jobs", deadline: 10.5)
        message.refusals = 1
        refused.hold([message], now: 10)
        #expect(refused.takeDue(now: 11).isEmpty)
        let failure = try #require(outcome.value)
        guard case let .failure(error) = failure else {
            Issue.record("a publish refused until its deadline succeeded")
            return
        }
        #expect(error.code == .nacked && error.message.contains("once"))
    }

    @Test("closing fails everything held")
    func closeFailsHeld() {
        let refused = RefusedPublishes(backoff: oneSecond)
        let (message, outcome) = pending()
        refused.hold([message], now: 0)
        refused.failAll(AMQPError(.closed, "closed"))
        #expect(outcome.value.map { (try? $0.get()) == nil } == true)
        #expect(refused.isEmpty && refused.retryAt == nil)
    }

    @Test("publishing moves past the consuming and declaring channels and busy ones, and wraps at the broker's limit")
    func channelNumbers() {
        #expect(ConnectionLoop.nextPublishChannel(after: 1, busy: [1], channelMax: 2047) == 3)
        #expect(ConnectionLoop.nextPublishChannel(after: 3, busy: [1, 3, 4], channelMax: 2047) == 5)
        #expect(ConnectionLoop.nextPublishChannel(after: 2047, busy: [2047], channelMax: 2047) == 3)
        #expect(ConnectionLoop.nextPublishChannel(after: 9, busy: [9, 10, 3], channelMax: 10) == 4)
    }
}
