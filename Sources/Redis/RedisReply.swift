import CHiredis

/// A Redis reply (RESP2), copied out of hiredis memory.
public enum RedisReply: Sendable, Hashable {
    case string([UInt8])
    case status(String)
    case integer(Int64)
    case array([RedisReply])
    case null
    case error(String)

    /// The reply as text, for bulk strings and status replies.
    public var string: String? {
        switch self {
        case let .string(bytes): return String(decoding: bytes, as: UTF8.self)
        case let .status(s): return s
        default: return nil
        }
    }

    /// The raw bytes of a bulk string.
    public var bytes: [UInt8]? {
        if case let .string(bytes) = self { return bytes }
        return nil
    }

    /// The reply as an integer (integer replies, or bulk strings holding a number).
    public var integer: Int64? {
        switch self {
        case let .integer(v): return v
        case let .string(bytes): return Int64(String(decoding: bytes, as: UTF8.self))
        default: return nil
        }
    }

    /// The elements of an array reply.
    public var array: [RedisReply]? {
        if case let .array(items) = self { return items }
        return nil
    }

    /// Whether this is the nil reply.
    public var isNull: Bool {
        if case .null = self { return true }
        return false
    }

    package init(_ reply: UnsafePointer<redisReply>) {
        let r = reply.pointee
        switch r.type {
        case REDIS_REPLY_STRING:
            self = .string(r.str.map { Array(UnsafeRawBufferPointer(start: $0, count: r.len)) } ?? [])
        case REDIS_REPLY_STATUS:
            self = .status(r.str.map { String(decoding: UnsafeRawBufferPointer(start: $0, count: r.len), as: UTF8.self) } ?? "")
        case REDIS_REPLY_ERROR:
            self = .error(r.str.map { String(decoding: UnsafeRawBufferPointer(start: $0, count: r.len), as: UTF8.self) } ?? "")
        case REDIS_REPLY_INTEGER:
            self = .integer(r.integer)
        case REDIS_REPLY_ARRAY:
            var items: [RedisReply] = []
            items.reserveCapacity(r.elements)
            if let elements = r.element {
                for index in 0..<r.elements {
                    if let element = elements[index] { items.append(RedisReply(element)) } else { items.append(.null) }
                }
            }
            self = .array(items)
        default:
            self = .null
        }
    }
}

/// Something that can be a command argument.
public protocol RedisArgument: Sendable {
    /// The bytes sent to Redis.
    var redisBytes: [UInt8] { get }
}

extension String: RedisArgument {
    public var redisBytes: [UInt8] { Array(utf8) }
}

extension Substring: RedisArgument {
    public var redisBytes: [UInt8] { Array(utf8) }
}

extension Array: RedisArgument where Element == UInt8 {
    public var redisBytes: [UInt8] { self }
}

extension Int: RedisArgument {
    public var redisBytes: [UInt8] { Array(String(self).utf8) }
}

extension Int64: RedisArgument {
    public var redisBytes: [UInt8] { Array(String(self).utf8) }
}

extension Double: RedisArgument {
    public var redisBytes: [UInt8] { Array(description.utf8) }
}
