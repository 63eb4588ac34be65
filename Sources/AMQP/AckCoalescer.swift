import DequeModule

/// Turns the settlements gathered in one I/O-thread turn into as few frames as possible.
///
/// Acknowledgements that complete a run from the oldest unsettled delivery go out as a single
/// `basic.ack` with `multiple` (one frame, and one broker operation, for many tasks); the others
/// go out one by one at once, never held back behind a slow task.
struct AckCoalescer {
    /// What to send for a batch.
    struct Plan: Equatable {
        /// `basic.ack` with `multiple` up to this tag.
        var acknowledgeThrough: UInt64?
        /// Everything else, one frame each.
        var individually: [(tag: UInt64, settlement: Settlement)]

        static func == (lhs: Plan, rhs: Plan) -> Bool {
            lhs.acknowledgeThrough == rhs.acknowledgeThrough && lhs.individually.map(\.tag) == rhs.individually.map(\.tag)
        }
    }

    /// Delivered and not yet settled, oldest first (tags only grow on a channel).
    private var unsettled: Deque<UInt64> = []
    /// Settled one by one while an older delivery was still open.
    private var settledAhead: Set<UInt64> = []

    /// Forgets everything (the channel is gone; its tags mean nothing any more).
    mutating func reset() {
        unsettled.removeAll()
        settledAhead.removeAll()
    }

    /// Records a delivery that will need settling.
    mutating func delivered(_ tag: UInt64) {
        unsettled.append(tag)
    }

    /// Plans the frames for `batch`.
    mutating func settle(_ batch: [(tag: UInt64, settlement: Settlement)]) -> Plan {
        var plan = Plan(acknowledgeThrough: nil, individually: [])
        var acks = Set<UInt64>()
        for (tag, settlement) in batch {
            if case .ack = settlement { acks.insert(tag) } else {
                plan.individually.append((tag, settlement))
                settledAhead.insert(tag)
            }
        }
        while let head = unsettled.first {
            if acks.remove(head) != nil {
                plan.acknowledgeThrough = head
            } else if settledAhead.remove(head) == nil {
                break
            }
            unsettled.removeFirst()
        }
        for tag in acks.sorted() {
            plan.individually.append((tag, .ack))
            settledAhead.insert(tag)
        }
        return plan
    }
}
