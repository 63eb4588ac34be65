import DequeModule

/// Turns settlements into as few frames as possible.
///
/// Acknowledgements that complete a run from the oldest unsettled delivery go out as a single
/// `basic.ack` with `multiple` (one frame, and one broker operation, for many tasks). One that
/// finished ahead of an older, still-running delivery waits briefly for the run to catch up —
/// tasks finish nearly in order — and goes out on its own after `holdLimit` seconds, or when
/// more than `heldLimit` wait, so a slow task never holds prefetch credit hostage.
struct AckCoalescer {
    /// What to send now.
    struct Plan: Equatable {
        /// `basic.ack` with `multiple` up to this tag.
        var acknowledgeThrough: UInt64?
        /// Everything else, one frame each.
        var individually: [(tag: UInt64, settlement: Settlement)]

        static func == (lhs: Plan, rhs: Plan) -> Bool {
            lhs.acknowledgeThrough == rhs.acknowledgeThrough && lhs.individually.map(\.tag) == rhs.individually.map(\.tag)
        }

        var isEmpty: Bool { acknowledgeThrough == nil && individually.isEmpty }
    }

    /// Longest an acknowledgement waits for the run to catch up, seconds.
    var holdLimit: Double = 0.001
    /// Most acknowledgements waiting at once.
    var heldLimit = 32

    /// Delivered and not yet settled, oldest first (tags only grow on a channel).
    private var unsettled: Deque<UInt64> = []
    /// Settled one by one (sent) while an older delivery was still open.
    private var settledAhead: Set<UInt64> = []
    /// Acknowledged by the worker, not sent yet, with when (monotonic seconds).
    private var held: [UInt64: Double] = [:]

    /// Forgets everything (the channel is gone; its tags mean nothing any more).
    mutating func reset() {
        unsettled.removeAll()
        settledAhead.removeAll()
        held.removeAll()
    }

    /// Records a delivery that will need settling.
    mutating func delivered(_ tag: UInt64) {
        unsettled.append(tag)
    }

    /// Whether acknowledgements are waiting to be sent.
    var hasHeld: Bool { !held.isEmpty }

    /// When the oldest held acknowledgement must go out.
    var nextDeadline: Double? { held.values.min().map { $0 + holdLimit } }

    /// Adds `batch` (at time `now`) and plans what to send now.
    mutating func settle(_ batch: [(tag: UInt64, settlement: Settlement)], now: Double) -> Plan {
        var plan = Plan(acknowledgeThrough: nil, individually: [])
        for (tag, settlement) in batch {
            if case .ack = settlement {
                held[tag] = now
            } else {
                plan.individually.append((tag, settlement))
                settledAhead.insert(tag)
            }
        }
        while let head = unsettled.first {
            if held.removeValue(forKey: head) != nil {
                plan.acknowledgeThrough = head
            } else if settledAhead.remove(head) == nil {
                break
            }
            unsettled.removeFirst()
        }
        let overdue = held.count > heldLimit ? Array(held.keys) : held.filter { now - $0.value >= holdLimit }.map(\.key)
        for tag in overdue.sorted() {
            held.removeValue(forKey: tag)
            plan.individually.append((tag, .ack))
            settledAhead.insert(tag)
        }
        return plan
    }

    /// Plans everything held to go out now (before a close, or a command that must see them).
    mutating func flush(now: Double) -> Plan {
        settle([], now: now + holdLimit)
    }
}
