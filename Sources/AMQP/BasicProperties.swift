import CRabbitMQ

/// AMQP `basic` content properties. `nil` means "not sent".
public struct BasicProperties: Sendable, Hashable {
    public var contentType: String?
    public var contentEncoding: String?
    public var headers: FieldTable?
    /// 1 = transient, 2 = persistent.
    public var deliveryMode: UInt8?
    public var priority: UInt8?
    public var correlationId: String?
    public var replyTo: String?
    /// Per-message TTL in milliseconds, as a decimal string (AMQP's odd choice).
    public var expiration: String?
    public var messageId: String?
    public var timestamp: UInt64?
    public var type: String?
    public var userId: String?
    public var appId: String?

    /// Properties with nothing set.
    public init(
        contentType: String? = nil, contentEncoding: String? = nil, headers: FieldTable? = nil,
        deliveryMode: UInt8? = nil, priority: UInt8? = nil, correlationId: String? = nil,
        replyTo: String? = nil, expiration: String? = nil, messageId: String? = nil,
        timestamp: UInt64? = nil, type: String? = nil, userId: String? = nil, appId: String? = nil
    ) {
        self.contentType = contentType
        self.contentEncoding = contentEncoding
        self.headers = headers
        self.deliveryMode = deliveryMode
        self.priority = priority
        self.correlationId = correlationId
        self.replyTo = replyTo
        self.expiration = expiration
        self.messageId = messageId
        self.timestamp = timestamp
        self.type = type
        self.userId = userId
        self.appId = appId
    }
}

// Property flags (amqp_framing.h AMQP_BASIC_*_FLAG).
private enum Flag {
    static let contentType: UInt32 = 1 << 15
    static let contentEncoding: UInt32 = 1 << 14
    static let headers: UInt32 = 1 << 13
    static let deliveryMode: UInt32 = 1 << 12
    static let priority: UInt32 = 1 << 11
    static let correlationId: UInt32 = 1 << 10
    static let replyTo: UInt32 = 1 << 9
    static let expiration: UInt32 = 1 << 8
    static let messageId: UInt32 = 1 << 7
    static let timestamp: UInt32 = 1 << 6
    static let type: UInt32 = 1 << 5
    static let userId: UInt32 = 1 << 4
    static let appId: UInt32 = 1 << 3
}

extension BasicProperties {
    /// Encodes into arena memory for one `amqp_basic_publish`.
    package func cProperties(in arena: CArena) -> amqp_basic_properties_t {
        var p = amqp_basic_properties_t()
        var flags: UInt32 = 0
        if let contentType { flags |= Flag.contentType; p.content_type = arena.bytes(contentType) }
        if let contentEncoding { flags |= Flag.contentEncoding; p.content_encoding = arena.bytes(contentEncoding) }
        if let headers { flags |= Flag.headers; p.headers = headers.cTable(in: arena) }
        if let deliveryMode { flags |= Flag.deliveryMode; p.delivery_mode = deliveryMode }
        if let priority { flags |= Flag.priority; p.priority = priority }
        if let correlationId { flags |= Flag.correlationId; p.correlation_id = arena.bytes(correlationId) }
        if let replyTo { flags |= Flag.replyTo; p.reply_to = arena.bytes(replyTo) }
        if let expiration { flags |= Flag.expiration; p.expiration = arena.bytes(expiration) }
        if let messageId { flags |= Flag.messageId; p.message_id = arena.bytes(messageId) }
        if let timestamp { flags |= Flag.timestamp; p.timestamp = timestamp }
        if let type { flags |= Flag.type; p.type = arena.bytes(type) }
        if let userId { flags |= Flag.userId; p.user_id = arena.bytes(userId) }
        if let appId { flags |= Flag.appId; p.app_id = arena.bytes(appId) }
        p._flags = flags
        return p
    }

    /// Copies properties out of rabbitmq-c memory (short strings as `amqp_bytes_t.shortString`).
    package init(_ p: amqp_basic_properties_t) {
        var strings = RecentStrings()
        self.init(p, strings: &strings)
    }

    /// Copies properties out of rabbitmq-c memory, taking long strings decoded lately from
    /// `strings` (a task's `correlation_id` is its id, which its headers carry again).
    init(_ p: amqp_basic_properties_t, strings: inout RecentStrings) {
        let flags = p._flags
        self.init()
        if flags & Flag.contentType != 0 { contentType = p.content_type.shortString(expecting: "application/json") }
        if flags & Flag.contentEncoding != 0 { contentEncoding = p.content_encoding.shortString(using: &strings) }
        if flags & Flag.deliveryMode != 0 { deliveryMode = p.delivery_mode }
        if flags & Flag.priority != 0 { priority = p.priority }
        if flags & Flag.correlationId != 0 { correlationId = p.correlation_id.shortString(using: &strings) }
        if flags & Flag.headers != 0 { headers = FieldTable(p.headers, strings: &strings) }
        if flags & Flag.replyTo != 0 { replyTo = p.reply_to.shortString(using: &strings) }
        if flags & Flag.expiration != 0 { expiration = p.expiration.shortString(using: &strings) }
        if flags & Flag.messageId != 0 { messageId = p.message_id.shortString(using: &strings) }
        if flags & Flag.timestamp != 0 { timestamp = p.timestamp }
        if flags & Flag.type != 0 { type = p.type.shortString(using: &strings) }
        if flags & Flag.userId != 0 { userId = p.user_id.shortString(using: &strings) }
        if flags & Flag.appId != 0 { appId = p.app_id.shortString(using: &strings) }
    }
}
