/// A JSON value that keeps what Python's `json` module keeps: object key order, integers of
/// any size (beyond 64 bits they are carried as their decimal text), and floats that print the
/// way Python prints them.
public enum JSON: Sendable, Hashable {
    case null
    case bool(Bool)
    /// An integer that fits in 64 bits.
    case int(Int64)
    /// An integer too large for 64 bits, as its decimal digits (with an optional leading `-`).
    case bigInt(String)
    case double(Double)
    case string(String)
    case array([JSON])
    case object(JSONObject)

    /// The value as a 64-bit integer (also from a float with no fractional part).
    public var int: Int64? {
        switch self {
        case let .int(v): return v
        case let .double(d) where d.rounded() == d && abs(d) < 9.2e18: return Int64(d)
        default: return nil
        }
    }

    /// The value as a float (integers convert).
    public var double: Double? {
        switch self {
        case let .double(d): return d
        case let .int(v): return Double(v)
        case let .bigInt(digits): return Double(digits)
        default: return nil
        }
    }

    public var string: String? {
        if case let .string(s) = self { return s }
        return nil
    }

    public var bool: Bool? {
        if case let .bool(b) = self { return b }
        return nil
    }

    public var array: [JSON]? {
        if case let .array(a) = self { return a }
        return nil
    }

    public var object: JSONObject? {
        if case let .object(o) = self { return o }
        return nil
    }

    public var isNull: Bool {
        if case .null = self { return true }
        return false
    }

    /// Member of an object, or nil.
    public subscript(key: String) -> JSON? {
        object?[key]
    }

    /// Element of an array, or nil when out of range.
    public subscript(index: Int) -> JSON? {
        guard let array, array.indices.contains(index) else { return nil }
        return array[index]
    }
}

/// A JSON object whose keys keep their insertion order (as Python dicts do).
public struct JSONObject: Sendable, Hashable, Sequence, ExpressibleByDictionaryLiteral {
    /// The members, in order.
    public private(set) var members: [(key: String, value: JSON)]

    public init() { members = [] }

    public init(_ members: [(key: String, value: JSON)]) {
        self.members = []
        self.members.reserveCapacity(members.count)
        for (key, value) in members { self[key] = value }
    }

    public init(dictionaryLiteral elements: (String, JSON)...) {
        self.init(elements.map { (key: $0.0, value: $0.1) })
    }

    /// The value for `key`; setting nil removes it, setting a new key appends it.
    public subscript(key: String) -> JSON? {
        get {
            for member in members where member.key == key { return member.value }
            return nil
        }
        set {
            if let index = members.firstIndex(where: { $0.key == key }) {
                if let newValue { members[index].value = newValue } else { members.remove(at: index) }
            } else if let newValue {
                members.append((key: key, value: newValue))
            }
        }
    }

    /// Appends without checking for an existing key (for parsers that already did).
    mutating func appendUnchecked(_ key: String, _ value: JSON) {
        members.append((key: key, value: value))
    }

    /// Makes room for `count` members (a writer that knows how many it will append).
    mutating func reserveCapacity(_ count: Int) {
        members.reserveCapacity(count)
    }

    /// Whether `key` is a member (without copying its value or the key list).
    func containsKey(_ key: String) -> Bool {
        members.contains { $0.key == key }
    }

    public var keys: [String] { members.map(\.key) }
    public var count: Int { members.count }
    public var isEmpty: Bool { members.isEmpty }

    public func makeIterator() -> IndexingIterator<[(key: String, value: JSON)]> { members.makeIterator() }

    public static func == (lhs: JSONObject, rhs: JSONObject) -> Bool {
        lhs.members.count == rhs.members.count && zip(lhs.members, rhs.members).allSatisfy { $0.key == $1.key && $0.value == $1.value }
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(members.count)
        for member in members {
            hasher.combine(member.key)
            hasher.combine(member.value)
        }
    }
}

extension JSON: ExpressibleByNilLiteral, ExpressibleByBooleanLiteral, ExpressibleByIntegerLiteral,
    ExpressibleByFloatLiteral, ExpressibleByStringLiteral, ExpressibleByArrayLiteral, ExpressibleByDictionaryLiteral {
    public init(nilLiteral: ()) { self = .null }
    public init(booleanLiteral value: Bool) { self = .bool(value) }
    public init(integerLiteral value: Int64) { self = .int(value) }
    public init(floatLiteral value: Double) { self = .double(value) }
    public init(stringLiteral value: String) { self = .string(value) }
    public init(arrayLiteral elements: JSON...) { self = .array(elements) }
    public init(dictionaryLiteral elements: (String, JSON)...) {
        self = .object(JSONObject(elements.map { (key: $0.0, value: $0.1) }))
    }
}
