/// One value in an AMQP field table or field array, as RabbitMQ and py-amqp put them on the wire.
///
/// Decoding keeps every kind the wire can carry. Encoding emits only the kinds Python's py-amqp
/// reads back as what was meant (`S t I L d V A F`); see `FieldValue.wireKind`.
public enum FieldValue: Sendable, Hashable {
    case bool(Bool)
    case int8(Int8)
    case uint8(UInt8)
    case int16(Int16)
    case uint16(UInt16)
    case int32(Int32)
    case uint32(UInt32)
    case int64(Int64)
    case uint64(UInt64)
    case float(Float)
    case double(Double)
    /// An AMQP decimal: `value / 10^scale`.
    case decimal(scale: UInt8, value: UInt32)
    /// A long string that is valid UTF-8.
    case string(String)
    /// A byte string: kind `x`, or a long string that is not valid UTF-8.
    case bytes([UInt8])
    /// Seconds since the Unix epoch.
    case timestamp(UInt64)
    case array([FieldValue])
    case table(FieldTable)
    case void

    /// The value as a signed integer, when it is any integer kind that fits.
    public var intValue: Int64? {
        switch self {
        case let .int8(v): return Int64(v)
        case let .uint8(v): return Int64(v)
        case let .int16(v): return Int64(v)
        case let .uint16(v): return Int64(v)
        case let .int32(v): return Int64(v)
        case let .uint32(v): return Int64(v)
        case let .int64(v): return v
        case let .uint64(v): return v <= UInt64(Int64.max) ? Int64(v) : nil
        case let .timestamp(v): return v <= UInt64(Int64.max) ? Int64(v) : nil
        default: return nil
        }
    }

    /// The value as a floating-point number, when it is numeric.
    public var doubleValue: Double? {
        switch self {
        case let .float(v): return Double(v)
        case let .double(v): return v
        case let .decimal(scale, value):
            var divisor = 1.0
            for _ in 0..<scale { divisor *= 10 }
            return Double(value) / divisor
        default: return intValue.map(Double.init)
        }
    }

    /// The value as text, when it is a string (or bytes that are valid UTF-8).
    public var stringValue: String? {
        switch self {
        case let .string(s): return s
        case let .bytes(b): return String(validating: b, as: UTF8.self)
        default: return nil
        }
    }

    /// The value as a boolean, when it is one.
    public var boolValue: Bool? {
        if case let .bool(b) = self { return b }
        return nil
    }

    /// Whether the value is AMQP void (Python `None`).
    public var isVoid: Bool {
        if case .void = self { return true }
        return false
    }
}

/// An ordered AMQP field table. Order is kept both ways, because Celery's headers have a
/// documented order and operators read them in the management UI.
public struct FieldTable: Sendable, Hashable, Sequence, ExpressibleByDictionaryLiteral {
    /// One key and its value.
    public struct Entry: Sendable, Hashable {
        public var key: String
        public var value: FieldValue
        public init(key: String, value: FieldValue) {
            self.key = key
            self.value = value
        }
    }

    /// The entries in wire order.
    public var entries: [Entry]

    /// An empty table.
    public init() { entries = [] }

    /// A table with these entries, in order.
    public init(_ entries: [Entry]) { self.entries = entries }

    public init(dictionaryLiteral elements: (String, FieldValue)...) {
        entries = elements.map { Entry(key: $0.0, value: $0.1) }
    }

    /// The value for `key`; setting replaces the first entry with that key or appends one.
    public subscript(key: String) -> FieldValue? {
        get { entries.first { $0.key == key }?.value }
        set {
            if let index = entries.firstIndex(where: { $0.key == key }) {
                if let newValue { entries[index].value = newValue } else { entries.remove(at: index) }
            } else if let newValue {
                entries.append(Entry(key: key, value: newValue))
            }
        }
    }

    /// The number of entries.
    public var count: Int { entries.count }
    /// Whether the table is empty.
    public var isEmpty: Bool { entries.isEmpty }

    public func makeIterator() -> IndexingIterator<[Entry]> { entries.makeIterator() }
}
