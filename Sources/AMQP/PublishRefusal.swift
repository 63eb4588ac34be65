import Foundation

/// A broker closing the publishing channel because of one `basic.publish`: which message it
/// was about, so that message fails alone instead of being published again after the
/// reconnect (and refused again, forever).
///
/// The broker closes the channel at the first publish it refuses and discards what followed,
/// so the culprit is the oldest unconfirmed message that fits the broker's reason; RabbitMQ
/// names the exchange, the size, the expiration or the user id in its reply text. A reason that names neither identifies
/// nothing: the messages are published again after a backed-off reconnect, and fail once their
/// publish deadline passes.
struct PublishRefusal {
    /// The error the culprit fails with.
    let error: AMQPError
    /// Picks the culprit among unconfirmed messages.
    let matches: @Sendable (OutgoingMessage) -> Bool
    /// The broker's largest accepted body, when its reply said so.
    let maxBodySize: Int?

    private static let basicClass: UInt16 = 60
    private static let publishMethod: UInt16 = 40

    /// Nil when the close was not caused by a publish, or its reason names no message.
    init?(replyCode: UInt16, text: String, classId: UInt16, methodId: UInt16) {
        guard classId == Self.basicClass, methodId == Self.publishMethod else { return nil }
        // RabbitMQ 3.8+: "PRECONDITION_FAILED - message size 134217729 is larger than configured max size 134217728"
        if replyCode == 406, let size = Self.number(after: "message size ", in: text) {
            let limit = Self.number(after: "max size ", in: text)
            error = AMQPError(.messageTooLarge, "broker refused a body of \(size) bytes: \(text)", replyCode: replyCode)
            matches = { $0.body.count == size }
            maxBodySize = limit
            return
        }
        // "PRECONDITION_FAILED - invalid expiration 'abc': no_integer"
        if replyCode == 406, let expiration = Self.quoted(after: "invalid expiration '", until: "': ", in: text) {
            error = AMQPError(.invalidMessage, "broker refused expiration '\(expiration)': \(text)", replyCode: replyCode)
            matches = { $0.properties.expiration == expiration }
            maxBodySize = nil
            return
        }
        // "PRECONDITION_FAILED - user_id property set to 'bob' but authenticated user was 'guest'"
        if replyCode == 406, let user = Self.quoted(after: "user_id property set to '", until: "' but authenticated user", in: text) {
            error = AMQPError(.invalidMessage, "broker refused user_id '\(user)': \(text)", replyCode: replyCode)
            matches = { $0.properties.userId == user }
            maxBodySize = nil
            return
        }
        // "NOT_FOUND - no exchange 'x' in vhost '/'", "ACCESS_REFUSED - access to exchange 'x' in vhost '/' refused …"
        if let exchange = Self.quotedExchange(in: text) {
            error = AMQPError(Session.code(forReply: replyCode), "broker refused a publish to exchange '\(exchange)': \(text)",
                              replyCode: replyCode)
            matches = { $0.exchange == exchange }
            maxBodySize = nil
            return
        }
        return nil
    }

    private static func number(after marker: String, in text: String) -> Int? {
        guard let range = text.range(of: marker) else { return nil }
        return Int(text[range.upperBound...].prefix { $0.isASCII && $0.isNumber })
    }

    /// The text between `marker` and the last `terminator` after it (the quoted value may
    /// itself hold quotes).
    private static func quoted(after marker: String, until terminator: String, in text: String) -> String? {
        guard let start = text.range(of: marker),
              let end = text.range(of: terminator, options: .backwards, range: start.upperBound..<text.endIndex) else { return nil }
        return String(text[start.upperBound..<end.lowerBound])
    }

    private static func quotedExchange(in text: String) -> String? {
        quoted(after: "exchange '", until: "' in vhost", in: text)
    }
}
