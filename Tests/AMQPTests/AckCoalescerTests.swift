@testable import AMQP
import Testing

@Suite("Acknowledgements are coalesced without holding any back")
struct AckCoalescerTests {
    @Test("a run of acks from the oldest delivery becomes one multiple ack")
    func contiguousRun() {
        var coalescer = AckCoalescer()
        for tag: UInt64 in 1...5 { coalescer.delivered(tag) }
        let plan = coalescer.settle([(3, .ack), (1, .ack), (2, .ack)])
        #expect(plan.acknowledgeThrough == 3)
        #expect(plan.individually.isEmpty)
    }

    @Test("acks behind an unfinished delivery go out one by one at once, and later extend a run")
    func gapsAreNotHeldBack() {
        var coalescer = AckCoalescer()
        for tag: UInt64 in 1...5 { coalescer.delivered(tag) }
        let first = coalescer.settle([(2, .ack), (3, .ack)])
        #expect(first.acknowledgeThrough == nil)
        #expect(first.individually.map(\.tag) == [2, 3])
        // Delivery 1 finishes: the run 1…3 is complete; 2 and 3 were already sent, 1 goes as the multiple ack.
        let second = coalescer.settle([(1, .ack), (4, .ack)])
        #expect(second.acknowledgeThrough == 4)
        #expect(second.individually.isEmpty)
    }

    @Test("rejections are always sent on their own and close gaps for later runs")
    func rejections() {
        var coalescer = AckCoalescer()
        for tag: UInt64 in 1...3 { coalescer.delivered(tag) }
        let plan = coalescer.settle([(1, .reject(requeue: true)), (2, .ack)])
        #expect(plan.individually.map(\.tag) == [1])
        #expect(plan.acknowledgeThrough == 2)
        #expect(coalescer.settle([(3, .ack)]).acknowledgeThrough == 3)
    }

    @Test("after a reset old tags are forgotten")
    func reset() {
        var coalescer = AckCoalescer()
        coalescer.delivered(7)
        coalescer.reset()
        coalescer.delivered(1)
        #expect(coalescer.settle([(1, .ack)]).acknowledgeThrough == 1)
    }
}
