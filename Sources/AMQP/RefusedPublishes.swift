import IOSupport

/// Publishes the broker refused (`basic.nack`), held until their next try on a fresh channel.
///
/// A nack means the broker did not take the message, and the channel that carried it may keep
/// refusing: in RabbitMQ 3.10 a channel whose first publish to a quorum queue lands after the
/// queue's leader node went down, but before the new leader updated the queue's record, asks the
/// dead node and gets `{badrpc, nodedown}`; `rabbit_fifo_client` then answers every later publish
/// to that queue on that channel with a nack, for as long as the channel lives, even after the
/// record names the new leader. So refused messages are tried again, on a new channel, until
/// their publish deadline, and only then fail with the reason.
///
/// Tries go out in rounds: the first refusal schedules a round one backoff later, refusals that
/// arrive meanwhile join it. The backoff grows with each round that brings no acknowledgement
/// of a retried message, so a queue that stays full (`x-overflow: reject-publish`) costs at most
/// a channel and a try per backoff cap, never a storm; one retried message acknowledged resets it.
final class RefusedPublishes {
    private let backoff: Backoff
    private var held: [PendingPublish] = []
    /// Rounds sent since a retried message was last acknowledged.
    private(set) var round = 0
    /// When the next round goes out (monotonic seconds); nil while nothing is held.
    private(set) var retryAt: Double?

    /// - Parameter backoff: the pause before each round, by round number.
    init(backoff: Backoff) {
        self.backoff = backoff
    }

    /// Messages waiting for their next try.
    var count: Int { held.count }
    var isEmpty: Bool { held.isEmpty }

    /// Holds refused messages for the next round, scheduling one if none is.
    func hold(_ refused: [PendingPublish], now: Double) {
        guard !refused.isEmpty else { return }
        held.append(contentsOf: refused)
        if retryAt == nil { retryAt = now + backoff.delay(attempt: round) }
    }

    /// Whether a round is due.
    func isDue(now: Double) -> Bool {
        guard let retryAt else { return false }
        return now >= retryAt
    }

    /// The messages of the round due now, oldest first (empty when none is due). Those whose
    /// deadline passed fail as refused instead: sent again, they would end as "unknown".
    func takeDue(now: Double) -> [PendingPublish] {
        guard isDue(now: now) else { return [] }
        expire(now: now)
        let due = held
        held.removeAll()
        retryAt = nil
        round += 1
        return due
    }

    /// A retried message was acknowledged: the next refusal starts from the shortest pause.
    func retryAcknowledged() {
        round = 0
    }

    /// Fails every held message whose deadline passed, saying how often the broker refused it.
    func expire(now: Double) {
        guard held.contains(where: { $0.deadline <= now }) else { return }
        held.removeAll { pending in
            guard pending.deadline <= now else { return false }
            pending.finish(.failure(Self.refusedError(pending)))
            return true
        }
        if held.isEmpty { retryAt = nil }
    }

    /// Fails everything held (the connection is closing).
    func failAll(_ error: AMQPError) {
        for pending in held { pending.finish(.failure(error)) }
        held.removeAll()
        retryAt = nil
    }

    static func refusedError(_ pending: PendingPublish) -> AMQPError {
        let times = pending.refusals == 1 ? "once" : "\(pending.refusals) times"
        return AMQPError(.nacked, "broker refused message to '\(pending.message.routingKey)' (basic.nack) \(times) until the publish "
            + "timeout, each try on a fresh channel: the queue is full (x-overflow reject-publish) or has no reachable leader")
    }
}
