@testable import AMQP
import CRabbitMQ
import Foundation
import Testing

/// Celery protocol v2 as Conveyor writes and reads it, pinned to what Python's `json`, kombu,
/// py-amqp and Celery 5.7 produce (captured in ../shared/reference/celery.md).
@Suite("Wire format")
struct WireTests {
    /// Kind letters of an encoded table, nested: `retries:I,timelimit:A[V,V],stamps:F{}`.
    static func kinds(_ table: FieldTable) -> String {
        CArena.with { arena in signature(table.cTable(in: arena)) }
    }

    private static func signature(_ table: amqp_table_t) -> String {
        (0..<Int(table.num_entries)).map { index in
            let entry = table.entries[index]
            return entry.key.string + ":" + signature(entry.value)
        }.joined(separator: ",")
    }

    private static func signature(_ value: amqp_field_value_t) -> String {
        switch value.kind {
        case UInt8(ascii: "A"):
            let array = value.value.array
            return "A[" + (0..<Int(array.num_entries)).map { signature(array.entries[$0]) }.joined(separator: ",") + "]"
        case UInt8(ascii: "F"):
            return "F{" + signature(value.value.table) + "}"
        default:
            return String(UnicodeScalar(value.kind))
        }
    }

    /// A date from seconds since the epoch, for readability.
    static func date(_ seconds: Double) -> Date { Date(timeIntervalSince1970: seconds) }

    /// Bytes from hex text; spaces, newlines and `|` separators are ignored.
    static func hex(_ text: String) -> [UInt8] {
        let digits = Array(text.unicodeScalars.filter { $0.properties.isASCIIHexDigit })
        return stride(from: 0, to: digits.count - 1, by: 2).map { UInt8(String(digits[$0]) + String(digits[$0 + 1]), radix: 16) ?? 0 }
    }

    static func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }

    /// The numbers in an array field value (void entries skipped).
    static func numbers(_ value: FieldValue?) -> [Double]? {
        guard case let .array(items)? = value else { return nil }
        return items.compactMap(\.doubleValue)
    }
}
