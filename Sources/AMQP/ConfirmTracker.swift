import DequeModule
import IOSupport

/// A message on its way to the broker, with whoever waits for its confirm.
final class PendingPublish: @unchecked Sendable {
    // Owned by the I/O thread once pushed; the completion is the only thing that escapes.
    let message: OutgoingMessage
    let deadline: Double
    private let completion: @Sendable (Result<Void, AMQPError>) -> Void
    private var finished = false
    /// Set when the broker returned the message (`basic.return`) before confirming it.
    var returned: AMQPError?
    /// How many times the broker refused it (`basic.nack`); it is tried again until its deadline.
    var refusals = 0

    init(message: OutgoingMessage, deadline: Double, completion: @escaping @Sendable (Result<Void, AMQPError>) -> Void) {
        self.message = message
        self.deadline = deadline
        self.completion = completion
    }

    func finish(_ result: Result<Void, AMQPError>) {
        guard !finished else { return }
        finished = true
        completion(result)
    }
}

/// What one `basic.ack` or `basic.nack` resolved, beyond the publishes it completed.
struct ConfirmOutcome {
    /// Publishes the broker refused (`basic.nack`), not yet finished: the caller tries them again
    /// or fails them.
    var refused: [PendingPublish] = []
    /// Whether a publish refused before was now acknowledged (trying again works again).
    var retryAcknowledged = false
}

/// Publisher-confirm bookkeeping for one channel: which delivery tag belongs to which pending
/// publish, resolved by `basic.ack`/`basic.nack` (honouring `multiple`) and `basic.return`.
///
/// Tags are consecutive from 1 per channel, so a deque indexed by `tag - firstTag` gives O(1)
/// confirms even when the broker acknowledges out of order. A class, so the window is always
/// mutated in place (a copy of a 20,000-entry window per confirm made big batches quadratic).
final class ConfirmTracker {
    private var window: Deque<PendingPublish?> = []
    private var firstTag: UInt64 = 1
    private var nextTag: UInt64 = 1

    /// Messages written but not yet confirmed.
    var outstanding: Int { window.lazy.filter { $0 != nil }.count }
    var isEmpty: Bool { window.isEmpty }

    /// Starts over for a new channel (tags restart at 1).
    func reset() -> [PendingPublish] {
        let unconfirmed = window.compactMap { $0 }
        window.removeAll()
        firstTag = 1
        nextTag = 1
        return unconfirmed
    }

    /// Records a message just written to the socket.
    func sent(_ pending: PendingPublish) {
        window.append(pending)
        nextTag += 1
    }

    /// Resolves `tag` (and every earlier one when `multiple`). Acknowledged publishes finish
    /// (returned ones as unroutable); refused ones come back in the outcome, unfinished.
    @discardableResult
    func confirm(tag: UInt64, multiple: Bool, acknowledged: Bool) -> ConfirmOutcome {
        var outcome = ConfirmOutcome()
        guard tag >= firstTag else { return outcome }
        if multiple {
            while firstTag <= tag, !window.isEmpty {
                resolve(window.removeFirst(), acknowledged: acknowledged, into: &outcome)
                firstTag += 1
            }
        } else {
            // The tag comes from the broker: compared before it becomes an index, so no tag can trap.
            guard tag - firstTag < UInt64(window.count) else { return outcome }
            let index = Int(tag - firstTag)
            resolve(window[index], acknowledged: acknowledged, into: &outcome)
            window[index] = nil
        }
        trim()
        return outcome
    }

    /// Marks the oldest unconfirmed message with this exchange, routing key and correlation id
    /// as returned; its ack, which the broker sends after the return, then fails the publish.
    func returned(exchange: String, routingKey: String, correlationId: String?, error: AMQPError) {
        let match = window.first { entry in
            guard let entry, entry.returned == nil, entry.message.mandatory else { return false }
            return entry.message.exchange == exchange && entry.message.routingKey == routingKey
                && entry.message.properties.correlationId == correlationId
        }
        if let match, let match {
            match.returned = error
        }
    }

    /// Fails the oldest unconfirmed message that `matches`, with `error`, so it is not sent
    /// again after the reconnect. - Returns: whether one matched.
    @discardableResult
    func refuse(_ error: AMQPError, where matches: (OutgoingMessage) -> Bool) -> Bool {
        guard let index = window.firstIndex(where: { $0.map { matches($0.message) } ?? false }), let pending = window[index] else {
            return false
        }
        pending.finish(.failure(error))
        window[index] = nil
        trim()
        return true
    }

    /// Fails every unconfirmed message whose deadline passed. While the broker blocks
    /// publishers (a resource alarm), the error says so. Deadlines grow with the window (one
    /// publish timeout per connection), so the scan stops at the first one still in time.
    func expire(now: Double, blocked: Bool) {
        for index in window.indices {
            guard let pending = window[index] else { continue }
            guard pending.deadline <= now else { break }
            let error = blocked
                ? AMQPError(.blocked, "broker is blocking publishers (memory or disk alarm): no confirm for message to "
                    + "'\(pending.message.routingKey)' in time; it may still be delivered once the alarm clears")
                : AMQPError(.confirmTimeout,
                    "no publisher confirm for message to '\(pending.message.routingKey)' in time; it may or may not be in the broker")
            pending.finish(.failure(error))
            window[index] = nil
        }
        trim()
    }

    private func resolve(_ pending: PendingPublish?, acknowledged: Bool, into outcome: inout ConfirmOutcome) {
        guard let pending else { return }
        if let returned = pending.returned {
            pending.finish(.failure(returned))
        } else if acknowledged {
            if pending.refusals > 0 { outcome.retryAcknowledged = true }
            pending.finish(.success(()))
        } else {
            pending.refusals += 1
            outcome.refused.append(pending)
        }
    }

    private func trim() {
        while let first = window.first, first == nil {
            window.removeFirst()
            firstTag += 1
        }
    }
}
