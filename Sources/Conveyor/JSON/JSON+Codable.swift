import Foundation

extension JSON {
    /// Encodes a `Codable` value the way kombu would carry it: dates become kombu
    /// `{"__type__": "datetime", "__value__": iso}` envelopes, so Python sees `datetime`s.
    /// Object keys come out sorted: Foundation's encoder keeps no declaration order (left alone,
    /// its order changes from process to process), and sorted is kombu's envelope order.
    public init<T: Encodable>(encoding value: T) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        encoder.dateEncodingStrategy = .custom { date, encoder in
            var container = encoder.container(keyedBy: EnvelopeKey.self)
            try container.encode("datetime", forKey: .type)
            try container.encode(ISO8601.format(date), forKey: .value)
        }
        encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "Infinity", negativeInfinity: "-Infinity", nan: "NaN")
        let data = try encoder.encode(value)
        self = try JSON.parse(data)
    }

    /// Decodes a `Codable` value, reading kombu envelopes (datetime, date, time, decimal, uuid,
    /// bytes, base64) as their plain forms first; dates accept Python's ISO-8601 variants.
    public func decode<T: Decodable>(_ type: T.Type) throws -> T {
        // JSON itself needs no round trip (and keeps its key order).
        if let same = self as? T { return same }
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .custom { decoder in
            let container = try decoder.singleValueContainer()
            if let seconds = try? container.decode(Double.self) { return Date(timeIntervalSince1970: seconds) }
            let text = try container.decode(String.self)
            guard let date = ISO8601.parse(text) else {
                throw DecodingError.dataCorruptedError(in: container, debugDescription: "'\(text)' is not an ISO-8601 date")
            }
            return date
        }
        return try decoder.decode(T.self, from: Data(unwrappingEnvelopes().serialized(.compact)))
    }

    /// The value with every kombu type envelope replaced by its plain JSON form:
    /// datetime/date/time → ISO string, decimal → number, uuid → canonical string,
    /// bytes → string, base64 → the base64 text.
    public func unwrappingEnvelopes() -> JSON {
        switch self {
        case let .array(items):
            return .array(items.map { $0.unwrappingEnvelopes() })
        case let .object(object):
            if let plain = KombuEnvelope.unwrap(object) { return plain }
            return .object(JSONObject(object.members.map { (key: $0.key, value: $0.value.unwrappingEnvelopes()) }))
        default:
            return self
        }
    }
}

private enum EnvelopeKey: String, CodingKey {
    case type = "__type__"
    case value = "__value__"
}

/// kombu's JSON type envelopes (`kombu/utils/json.py`): an object whose keys are exactly
/// `__type__` and `__value__`.
public enum KombuEnvelope {
    /// The plain JSON for an envelope, or nil when `object` is not one.
    public static func unwrap(_ object: JSONObject) -> JSON? {
        guard object.count == 2, let type = object["__type__"]?.string, let value = object["__value__"] else { return nil }
        switch type {
        case "datetime", "date", "time":
            return value.string.map(JSON.string) ?? value
        case "decimal":
            guard let text = value.string else { return value }
            if let parsed = try? JSON.parse(text), parsed.double != nil { return parsed }
            return .string(text)
        case "uuid":
            if let hex = value["hex"]?.string, hex.count == 32 {
                let chars = Array(hex)
                let groups = [0..<8, 8..<12, 12..<16, 16..<20, 20..<32].map { String(chars[$0]) }
                return .string(groups.joined(separator: "-"))
            }
            return value
        case "bytes", "base64":
            return value
        default:
            return nil
        }
    }

    /// Wraps a date as kombu does.
    public static func datetime(_ date: Date) -> JSON {
        ["__type__": "datetime", "__value__": .string(ISO8601.format(date))]
    }
}

/// `JSON` inside `Codable` types (an "any JSON" field). Decoding through Foundation's decoder
/// does not keep object key order; `JSON.parse` does.
extension JSON: Codable {
    private struct CodingName: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }

    public init(from decoder: any Decoder) throws {
        if let container = try? decoder.container(keyedBy: CodingName.self) {
            var object = JSONObject()
            for key in container.allKeys { object[key.stringValue] = try container.decode(JSON.self, forKey: key) }
            self = .object(object)
            return
        }
        if var container = try? decoder.unkeyedContainer() {
            var items: [JSON] = []
            while !container.isAtEnd { items.append(try container.decode(JSON.self)) }
            self = .array(items)
            return
        }
        let container = try decoder.singleValueContainer()
        if container.decodeNil() {
            self = .null
        } else if let b = try? container.decode(Bool.self) {
            self = .bool(b)
        } else if let i = try? container.decode(Int64.self) {
            self = .int(i)
        } else if let d = try? container.decode(Double.self) {
            self = .double(d)
        } else {
            self = .string(try container.decode(String.self))
        }
    }

    public func encode(to encoder: any Encoder) throws {
        switch self {
        case .null:
            var c = encoder.singleValueContainer()
            try c.encodeNil()
        case let .bool(b):
            var c = encoder.singleValueContainer()
            try c.encode(b)
        case let .int(i):
            var c = encoder.singleValueContainer()
            try c.encode(i)
        case let .bigInt(digits):
            var c = encoder.singleValueContainer()
            try c.encode(Double(digits) ?? 0)
        case let .double(d):
            var c = encoder.singleValueContainer()
            try c.encode(d)
        case let .string(s):
            var c = encoder.singleValueContainer()
            try c.encode(s)
        case let .array(items):
            var c = encoder.unkeyedContainer()
            for item in items { try c.encode(item) }
        case let .object(object):
            var c = encoder.container(keyedBy: CodingName.self)
            for (key, value) in object { try c.encode(value, forKey: CodingName(stringValue: key)) }
        }
    }
}
