import AMQP

/// Whether a field value read back after Conveyor wrote it means what the original meant.
///
/// The writer emits only `S t I L d V A F`, so kinds change on the way (`T` and every integer
/// kind become `I` or `L`, floats and decimals `d`, byte strings `S`), but values may not: an
/// integer stays the same integer (a UInt64 beyond Int64 as its bit pattern, the documented
/// exception), a float the same Double (bit for bit, NaN included), bytes the same bytes.
enum FieldMeaning {
    static func same(_ a: FieldTable, _ b: FieldTable) -> Bool {
        a.count == b.count && zip(a.entries, b.entries).allSatisfy { $0.key == $1.key && same($0.value, $1.value) }
    }

    static func same(_ a: FieldValue, _ b: FieldValue) -> Bool {
        switch a {
        case let .bool(x): return b == .bool(x)
        case .void: return b.isVoid
        case let .uint64(x), let .timestamp(x): return b.intValue == Int64(bitPattern: x)
        case .int8, .uint8, .int16, .uint16, .int32, .uint32, .int64: return b.intValue != nil && b.intValue == a.intValue
        case .float, .double, .decimal:
            guard case let .double(y) = b, let x = a.doubleValue else { return false }
            return x.bitPattern == y.bitPattern || (x.isNaN && y.isNaN)
        case let .string(x): return bytes(of: b) == Array(x.utf8)
        case let .bytes(x): return bytes(of: b) == x
        case let .array(x):
            guard case let .array(y) = b, x.count == y.count else { return false }
            return zip(x, y).allSatisfy { same($0, $1) }
        case let .table(x):
            guard case let .table(y) = b else { return false }
            return same(x, y)
        }
    }

    private static func bytes(of value: FieldValue) -> [UInt8]? {
        switch value {
        case let .string(s): return Array(s.utf8)
        case let .bytes(b): return b
        default: return nil
        }
    }
}
