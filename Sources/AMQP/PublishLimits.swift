/// What one publish on a connection may carry: properties that fit in one content-header
/// frame of the negotiated size, and a body no larger than the broker accepts.
///
/// A message past either limit can never be published, however often it is tried, so it is
/// refused before a byte is written and fails alone (`messageTooLarge` / `invalidMessage`).
public struct PublishLimits: Sendable, Equatable {
    /// The frame size Conveyor asks for at login (also rabbitmq-c's and RabbitMQ's default).
    public static let requestedFrameMax = 131_072
    /// RabbitMQ's default `max_message_size` (128 MiB, RabbitMQ 3.8 and later).
    public static let defaultMaxBodySize = 134_217_728
    /// Bytes of a content-header frame that are not properties: frame type, channel and size
    /// (7), class id, weight and body size (12), frame end (1).
    public static let headerFrameOverhead = 20

    /// The frame size the connection negotiated.
    public var frameMax: Int
    /// The largest body the broker takes (its `max_message_size`).
    public var maxBodySize: Int

    /// - Parameters:
    ///   - frameMax: the negotiated frame size.
    ///   - maxBodySize: the broker's largest accepted body.
    public init(frameMax: Int = PublishLimits.requestedFrameMax, maxBodySize: Int = PublishLimits.defaultMaxBodySize) {
        self.frameMax = frameMax
        self.maxBodySize = maxBodySize
    }

    /// The most bytes a message's properties (flags, short strings, headers table) may take.
    public var propertiesBudget: Int { frameMax - Self.headerFrameOverhead }

    /// Throws `invalidMessage` or `messageTooLarge` when `message` can never be published
    /// under these limits; returns without touching anything otherwise.
    public func check(_ message: OutgoingMessage) throws {
        if message.exchange.utf8.count > 255 {
            throw AMQPError(.invalidMessage, "exchange name of \(message.exchange.utf8.count) bytes is over AMQP's 255")
        }
        if message.routingKey.utf8.count > 255 {
            throw AMQPError(.invalidMessage, "routing key of \(message.routingKey.utf8.count) bytes is over AMQP's 255")
        }
        if let name = message.properties.overlongShortString {
            throw AMQPError(.invalidMessage, "property \(name) is over AMQP's 255 bytes (message to '\(target(message))')")
        }
        var properties = message.properties
        let headers = properties.headers?.measured
        if let key = headers?.overlongKey {
            throw AMQPError(.invalidMessage, "header name '\(key)' is over AMQP's 255 bytes (message to '\(target(message))')")
        }
        properties.headers = nil
        let size = properties.encodedSize + (headers?.size ?? 0)
        if size > propertiesBudget {
            throw AMQPError(.messageTooLarge, "message to '\(target(message))' has \(size) bytes of properties and headers; "
                + "one frame holds \(propertiesBudget) (frame_max \(frameMax))")
        }
        if message.body.count > maxBodySize {
            throw AMQPError(.messageTooLarge, "message to '\(target(message))' has a body of \(message.body.count) bytes; "
                + "the broker accepts at most \(maxBodySize)")
        }
    }

    private func target(_ message: OutgoingMessage) -> String {
        let key = message.routingKey.utf8.count > 64 ? String(message.routingKey.prefix(64)) + "…" : message.routingKey
        return message.exchange.isEmpty ? key : "\(message.exchange.prefix(64))/\(key)"
    }
}
