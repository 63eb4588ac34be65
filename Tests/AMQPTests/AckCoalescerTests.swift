@testable import AMQP
import Testing

@Suite("Acknowledgements are coalesced without holding prefetch credit hostage")
struct AckCoalescerTests {
    @Test("a run of acks from the oldest delivery becomes one multiple ack")
    func contiguousRun() {
        var coalescer = AckCoalescer()
        for tag: UInt64 in 1...5 { coalescer.delivered(tag) }
        let plan = coalescer.settle([(3, .ack), (1, .ack), (2, .ack)], now: 0)
        #expect(plan.acknowledgeThrough == 3)
        #expect(plan.individually.isEmpty)
        #expect(!coalescer.hasHeld)
    }

    @Test("an ack ahead of an unfinished delivery waits briefly, then joins the run when it catches up")
    func aheadJoinsTheRun() {
        var coalescer = AckCoalescer()
        for tag: UInt64 in 1...5 { coalescer.delivered(tag) }
        let first = coalescer.settle([(2, .ack), (3, .ack)], now: 0)
        #expect(first.isEmpty)
        #expect(coalescer.hasHeld)
        #expect(coalescer.nextDeadline == coalescer.holdLimit)
        let second = coalescer.settle([(1, .ack)], now: 0.0005)
        #expect(second.acknowledgeThrough == 3)
        #expect(second.individually.isEmpty)
        #expect(!coalescer.hasHeld)
    }

    @Test("an ack held past the hold limit goes out on its own, and later runs skip it")
    func overdueGoesAlone() {
        var coalescer = AckCoalescer()
        for tag: UInt64 in 1...4 { coalescer.delivered(tag) }
        _ = coalescer.settle([(2, .ack)], now: 0)
        let late = coalescer.settle([], now: coalescer.holdLimit)
        #expect(late.individually.map(\.tag) == [2])
        #expect(late.acknowledgeThrough == nil)
        let run = coalescer.settle([(1, .ack), (3, .ack)], now: 1)
        #expect(run.acknowledgeThrough == 3)
        #expect(run.individually.isEmpty)
    }

    @Test("too many held acks are all sent at once, whatever their age")
    func heldLimit() {
        var coalescer = AckCoalescer()
        coalescer.heldLimit = 2
        for tag: UInt64 in 1...5 { coalescer.delivered(tag) }
        let plan = coalescer.settle([(2, .ack), (3, .ack), (4, .ack)], now: 0)
        #expect(plan.individually.map(\.tag) == [2, 3, 4])
    }

    @Test("rejections are always sent on their own and close gaps for later runs")
    func rejections() {
        var coalescer = AckCoalescer()
        for tag: UInt64 in 1...3 { coalescer.delivered(tag) }
        let plan = coalescer.settle([(1, .reject(requeue: true)), (2, .ack)], now: 0)
        #expect(plan.individually.map(\.tag) == [1])
        #expect(plan.acknowledgeThrough == 2)
        #expect(coalescer.settle([(3, .ack)], now: 0).acknowledgeThrough == 3)
    }

    @Test("a flush plans every held ack at once")
    func flush() {
        var coalescer = AckCoalescer()
        for tag: UInt64 in 1...3 { coalescer.delivered(tag) }
        _ = coalescer.settle([(3, .ack)], now: 0)
        let plan = coalescer.flush(now: 0)
        #expect(plan.individually.map(\.tag) == [3])
        #expect(!coalescer.hasHeld)
    }

    @Test("after a reset old tags are forgotten")
    func reset() {
        var coalescer = AckCoalescer()
        coalescer.delivered(7)
        _ = coalescer.settle([(7, .ack)], now: 0)
        coalescer.reset()
        coalescer.delivered(1)
        #expect(coalescer.settle([(1, .ack)], now: 0).acknowledgeThrough == 1)
    }
}
