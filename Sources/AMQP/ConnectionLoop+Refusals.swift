import IOSupport

/// What the I/O thread does when the broker refuses publishes (`basic.nack`): it holds them for
/// another try (`RefusedPublishes`) and sends that try on a fresh channel, because the channel
/// that refused may go on refusing everything for that queue (see `RefusedPublishes`). The old
/// channel stays open until the confirms still due on it arrive, so nothing it carried is sent
/// twice.
extension ConnectionLoop {
    /// Applies a `basic.ack` or `basic.nack` that arrived on `channel`.
    func confirm(channel: UInt16, tag: UInt64, multiple: Bool, acknowledged: Bool) {
        guard let tracker = confirmTracker(for: channel) else { return }
        let outcome = tracker.confirm(tag: tag, multiple: multiple, acknowledged: acknowledged)
        if outcome.retryAcknowledged { refused.retryAcknowledged() }
        guard !outcome.refused.isEmpty else { return }
        // Once when a round is scheduled, and every 30th round of a refusal that lasts.
        let scheduling = refused.isEmpty && refused.round % 30 == 0
        refused.hold(outcome.refused, now: monotonicSeconds())
        if channel == publishChannel { publishChannelRefused = true }
        if scheduling {
            logger.warning("amqp publish refused by broker (basic.nack); trying again on a fresh channel",
                           metadata: ["connection": "\(configuration.name)", "channel": "\(channel)",
                                      "queue": "\(outcome.refused[0].message.routingKey)", "round": "\(refused.round)"])
        }
    }

    /// The confirm bookkeeping of `channel`: the publish channel's, or that of a channel
    /// publishing moved away from.
    func confirmTracker(for channel: UInt16) -> ConfirmTracker? {
        if channel == publishChannel { return confirms }
        return retiring.first { $0.channel == channel }?.confirms
    }

    /// The refused publishes whose next try is due, to go out before anything newer; publishing
    /// moves to a fresh channel first when the current one refused. Nil when none is due.
    func takeDueRefusals(_ session: Session) throws -> [PendingPublish]? {
        let now = monotonicSeconds()
        guard refused.isDue(now: now) else { return nil }
        if publishChannelRefused { try movePublishing(session) }
        return refused.takeDue(now: now)
    }

    private func movePublishing(_ session: Session) throws {
        let busy = Set(retiring.map(\.channel) + [publishChannel])
        let next = Self.nextPublishChannel(after: publishChannel, busy: busy, channelMax: session.channelMax)
        try session.openChannel(next)
        try session.confirmSelect(channel: next)
        logger.info("amqp publishing moved to a fresh channel", metadata: ["connection": "\(configuration.name)",
                                                                         "from": "\(publishChannel)", "to": "\(next)"])
        if !confirms.isEmpty {
            retiring.append((publishChannel, confirms))
        } else if publishChannel != Self.mainChannel {
            try session.closeChannel(publishChannel)
        }
        confirms = ConfirmTracker()
        publishChannel = next
        publishChannelRefused = false
    }

    /// Closes the channels publishing moved away from once every confirm due on them arrived
    /// (the main channel stays: consumers live there).
    func closeSettledChannels(_ session: Session) throws {
        while let index = retiring.firstIndex(where: { $0.confirms.isEmpty }) {
            let channel = retiring.remove(at: index).channel
            if channel != Self.mainChannel { try session.closeChannel(channel) }
        }
    }

    /// The channel publishing moves to from `current`: channels 1 (consuming) and 2 (declaring)
    /// are taken, the rest are used in turn up to the broker's limit, skipping `busy` ones.
    static func nextPublishChannel(after current: UInt16, busy: Set<UInt16>, channelMax: UInt16) -> UInt16 {
        let first = controlChannel + 1
        let last = max(first, channelMax)
        var candidate = current
        for _ in 0...Int(last - first) {
            candidate = candidate < first || candidate >= last ? first : candidate + 1
            if !busy.contains(candidate) { return candidate }
        }
        // Every channel busy cannot happen with one refusal round at a time; take the first.
        return first
    }

    /// Everything sent but unconfirmed on any channel, oldest first; publishing starts over on
    /// the main channel of the next connection.
    func takeUnconfirmed() -> [PendingPublish] {
        var unconfirmed: [PendingPublish] = []
        for entry in retiring { unconfirmed += entry.confirms.reset() }
        unconfirmed += confirms.reset()
        retiring.removeAll()
        publishChannel = Self.mainChannel
        publishChannelRefused = false
        return unconfirmed
    }

    /// Whether any channel still waits for confirms.
    var hasUnconfirmed: Bool { !confirms.isEmpty || retiring.contains { !$0.confirms.isEmpty } }

    /// Fails what waited for a confirm, or for another try, past its deadline.
    func expireConfirms(now: Double) {
        confirms.expire(now: now, blocked: blocked)
        for entry in retiring { entry.confirms.expire(now: now, blocked: blocked) }
        refused.expire(now: now)
    }
}
