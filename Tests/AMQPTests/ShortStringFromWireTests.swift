@testable import AMQP
import CRabbitMQ
import Testing

/// Found by `ops/fuzz field-table`: a field name of bytes that are not UTF-8 was repaired with
/// U+FFFD (three bytes each), so 86 or more of them grew past AMQP's 255-byte limit for short
/// strings, and rabbitmq-c wrote the name with a wrapped length byte: a table the broker (and
/// rabbitmq-c itself) rejects, on a dead letter or retry that copies the message's headers.
/// Short-string properties such as `reply_to` grew the same way.
@Suite("Short strings read from the wire can be written back")
struct ShortStringFromWireTests {
    /// The fuzzer's shape, reduced: a table of one entry, named by 100 bytes 0xFF, value void.
    static let badName: [UInt8] = {
        let entry = [100] + [UInt8](repeating: 0xFF, count: 100) + Array("V".utf8)
        return [0, 0, 0, UInt8(entry.count)] + entry
    }()

    @Test("a field name of 100 bytes that are not UTF-8 becomes 85 replacement characters, and the table round-trips")
    func fieldName() throws {
        let table = try Self.decodeTable(Self.badName)
        let name = try #require(table.entries.first?.key)
        #expect(name == String(repeating: "\u{FFFD}", count: 85))
        #expect(name.utf8.count == 255)
        let reread = try Self.decodeTable(try Self.encodeTable(table))
        #expect(reread == table)
    }

    @Test("reply_to and correlation_id of 255 bytes that are not UTF-8 stay within 255 bytes and encode again")
    func properties() throws {
        let bad = [UInt8](repeating: 0xC3, count: 255)
        // Flags: reply_to (bit 9) and correlation_id (bit 10), each a length byte and the bytes.
        let section: [UInt8] = [0x06, 0x00, 255] + bad + [255] + bad
        let properties = try Self.decodeProperties(section)
        #expect(properties.replyTo?.utf8.count == 255)
        #expect(properties.correlationId?.utf8.count == 255)
        let reread = try Self.decodeProperties(try Self.encodeProperties(properties))
        #expect(reread == properties)
    }

    @Test("a valid name of 255 bytes ending in a multi-byte character is kept whole")
    func validNameKept() throws {
        let name = String(repeating: "a", count: 253) + "é"
        let table = try Self.decodeTable(try Self.encodeTable([name: .bool(true)]))
        #expect(table.entries.first?.key == name)
    }

    static func decodeTable(_ bytes: [UInt8]) throws -> FieldTable {
        var pool = amqp_pool_t()
        init_amqp_pool(&pool, 4096)
        defer { empty_amqp_pool(&pool) }
        var copy = bytes
        return try copy.withUnsafeMutableBytes { raw in
            var table = amqp_table_t()
            var offset = 0
            let status = amqp_decode_table(amqp_bytes_t(len: raw.count, bytes: raw.baseAddress), &pool, &table, &offset)
            try #require(status == AMQP_STATUS_OK.rawValue, "amqp_decode_table failed: \(status)")
            return FieldTable(table)
        }
    }

    static func encodeTable(_ table: FieldTable) throws -> [UInt8] {
        try CArena.with { arena in
            var cTable = table.cTable(in: arena)
            var buffer = [UInt8](repeating: 0, count: 1 << 16)
            var offset = 0
            let status = buffer.withUnsafeMutableBytes { raw in
                amqp_encode_table(amqp_bytes_t(len: raw.count, bytes: raw.baseAddress), &cTable, &offset)
            }
            try #require(status == AMQP_STATUS_OK.rawValue, "amqp_encode_table failed: \(status)")
            return Array(buffer[..<offset])
        }
    }

    static func decodeProperties(_ bytes: [UInt8]) throws -> BasicProperties {
        var pool = amqp_pool_t()
        init_amqp_pool(&pool, 4096)
        defer { empty_amqp_pool(&pool) }
        var copy = bytes
        return try copy.withUnsafeMutableBytes { raw in
            var decoded: UnsafeMutableRawPointer? = nil
            let status = amqp_decode_properties(60, &pool, amqp_bytes_t(len: raw.count, bytes: raw.baseAddress), &decoded)
            try #require(status == AMQP_STATUS_OK.rawValue, "amqp_decode_properties failed: \(status)")
            return BasicProperties(try #require(decoded).assumingMemoryBound(to: amqp_basic_properties_t.self).pointee)
        }
    }

    static func encodeProperties(_ properties: BasicProperties) throws -> [UInt8] {
        try CArena.with { arena in
            var cProperties = properties.cProperties(in: arena)
            var buffer = [UInt8](repeating: 0, count: 1 << 16)
            let length = buffer.withUnsafeMutableBytes { raw in
                amqp_encode_properties(60, &cProperties, amqp_bytes_t(len: raw.count, bytes: raw.baseAddress))
            }
            try #require(length > 0, "amqp_encode_properties failed: \(length)")
            return Array(buffer[..<Int(length)])
        }
    }
}
