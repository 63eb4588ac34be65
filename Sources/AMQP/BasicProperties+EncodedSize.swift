/// How many bytes properties, tables and values take on the wire, as rabbitmq-c encodes what
/// `cProperties` and `cValue` hand it (integers as `I` or `L`, floats as `d`, bytes as `S`).
///
/// rabbitmq-c writes a publish's method frame before it encodes the content header, so a header
/// that does not fit is found only after the broker has seen half a message, and the connection
/// is lost (RabbitMQ answers the next frame with 505 UNEXPECTED_FRAME). Sizes computed here let
/// a publish be refused before anything is written. `FieldTableEncodingTests` pins them to
/// rabbitmq-c's own encoder.
extension BasicProperties {
    /// Bytes of the content header's property flags and property list.
    public var encodedSize: Int {
        // One 16-bit flag word: the basic class has 14 properties, all in bits 15 … 3.
        var size = 2
        // Checked on every publish: no array of the properties, so no allocation.
        func short(_ text: String?) { if let text { size += 1 + text.utf8.count } }
        short(contentType)
        short(contentEncoding)
        short(correlationId)
        short(replyTo)
        short(expiration)
        short(messageId)
        short(type)
        short(userId)
        short(appId)
        if let headers { size += headers.encodedSize }
        if deliveryMode != nil { size += 1 }
        if priority != nil { size += 1 }
        if timestamp != nil { size += 8 }
        return size
    }

    /// The first short-string property longer than AMQP's 255 bytes, by name.
    var overlongShortString: String? {
        func over(_ text: String?) -> Bool { (text?.utf8.count ?? 0) > 255 }
        if over(contentType) { return "content_type" }
        if over(contentEncoding) { return "content_encoding" }
        if over(correlationId) { return "correlation_id" }
        if over(replyTo) { return "reply_to" }
        if over(expiration) { return "expiration" }
        if over(messageId) { return "message_id" }
        if over(type) { return "type" }
        if over(userId) { return "user_id" }
        if over(appId) { return "app_id" }
        return nil
    }
}

extension FieldTable {
    /// Bytes of the table: its 4-byte length and every entry (name, kind letter, value).
    public var encodedSize: Int { measured.size }

    /// The size, and the first field name (at any depth) longer than AMQP's 255 bytes, in one
    /// pass (this runs on every publish).
    var measured: (size: Int, overlongKey: String?) {
        var size = 4
        var overlong: String?
        // By index: iterating copies (and retains) every entry.
        for index in entries.indices {
            let keyBytes = entries[index].key.utf8.count
            if keyBytes > 255, overlong == nil { overlong = String(entries[index].key.prefix(32)) + "…" }
            size += 1 + keyBytes
            let value = entries[index].value.measured
            size += value.size
            if overlong == nil { overlong = value.overlongKey }
        }
        return (size, overlong)
    }
}

extension FieldValue {
    /// Bytes of the value including its kind letter.
    public var encodedSize: Int {
        switch self {
        case .bool: return 2
        case let .int8(v): return Self.integerSize(Int64(v))
        case let .uint8(v): return Self.integerSize(Int64(v))
        case let .int16(v): return Self.integerSize(Int64(v))
        case let .uint16(v): return Self.integerSize(Int64(v))
        case let .int32(v): return Self.integerSize(Int64(v))
        case let .uint32(v): return Self.integerSize(Int64(v))
        case let .int64(v): return Self.integerSize(v)
        case .uint64, .timestamp, .float, .double, .decimal: return 9
        case let .string(s): return 5 + s.utf8.count
        case let .bytes(b): return 5 + b.count
        case let .array(items): return 5 + items.reduce(0) { $0 + $1.encodedSize }
        case let .table(table): return 1 + table.encodedSize
        case .void: return 1
        }
    }

    private static func integerSize(_ v: Int64) -> Int {
        v >= Int64(Int32.min) && v <= Int64(Int32.max) ? 5 : 9
    }

    /// Bytes of the value including its kind letter, and the first field name in it (at any
    /// depth) longer than 255 bytes: one pass over nested tables and arrays (measuring them once
    /// for the size and again for the names doubled the work at every level of nesting).
    fileprivate var measured: (size: Int, overlongKey: String?) {
        switch self {
        case let .table(table):
            let inner = table.measured
            return (1 + inner.size, inner.overlongKey)
        case let .array(items):
            var size = 5
            var overlong: String?
            for item in items {
                let inner = item.measured
                size += inner.size
                if overlong == nil { overlong = inner.overlongKey }
            }
            return (size, overlong)
        default:
            return (encodedSize, nil)
        }
    }
}
