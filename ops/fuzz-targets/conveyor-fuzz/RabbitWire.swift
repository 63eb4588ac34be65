import AMQP
import CRabbitMQ

/// rabbitmq-c's own encoders and decoders for what arrives in frames: the bytes a broker sends
/// become the C structures Conveyor converts, exactly as on a live connection.
enum RabbitWire {
    /// The basic class (60): content-header property sections are encoded per class.
    private static let basicClass: UInt16 = 60
    /// Larger than any frame a broker sends (RabbitMQ's frame_max is 128 KiB).
    private static let bufferSize = 1 << 20

    /// A content header's property section, decoded by rabbitmq-c; nil when it refuses the bytes.
    static func decodeProperties(_ bytes: [UInt8]) -> BasicProperties? {
        withPool { pool in
            var copy = bytes
            return copy.withUnsafeMutableBytes { raw -> BasicProperties? in
                var decoded: UnsafeMutableRawPointer? = nil
                let status = amqp_decode_properties(basicClass, &pool, amqp_bytes_t(len: raw.count, bytes: raw.baseAddress), &decoded)
                guard status == AMQP_STATUS_OK.rawValue, let decoded else { return nil }
                return BasicProperties(decoded.assumingMemoryBound(to: amqp_basic_properties_t.self).pointee)
            }
        }
    }

    /// The property section rabbitmq-c writes for `properties`; nil when it refuses to.
    static func encodeProperties(_ properties: BasicProperties) -> [UInt8]? {
        CArena.with { arena in
            var cProperties = properties.cProperties(in: arena)
            var buffer = [UInt8](repeating: 0, count: bufferSize)
            let length = buffer.withUnsafeMutableBytes { raw in
                amqp_encode_properties(basicClass, &cProperties, amqp_bytes_t(len: raw.count, bytes: raw.baseAddress))
            }
            return length > 0 ? Array(buffer[..<Int(length)]) : nil
        }
    }

    /// A field table (with its length prefix), decoded by rabbitmq-c; nil when it refuses the bytes.
    static func decodeTable(_ bytes: [UInt8]) -> FieldTable? {
        withPool { pool in
            var copy = bytes
            return copy.withUnsafeMutableBytes { raw -> FieldTable? in
                var table = amqp_table_t()
                var offset = 0
                let status = amqp_decode_table(amqp_bytes_t(len: raw.count, bytes: raw.baseAddress), &pool, &table, &offset)
                guard status == AMQP_STATUS_OK.rawValue else { return nil }
                return FieldTable(table)
            }
        }
    }

    /// The bytes rabbitmq-c writes for `table`; nil when it refuses to.
    static func encodeTable(_ table: FieldTable) -> [UInt8]? {
        CArena.with { arena in
            var cTable = table.cTable(in: arena)
            var buffer = [UInt8](repeating: 0, count: bufferSize)
            var offset = 0
            let status = buffer.withUnsafeMutableBytes { raw in
                amqp_encode_table(amqp_bytes_t(len: raw.count, bytes: raw.baseAddress), &cTable, &offset)
            }
            return status == AMQP_STATUS_OK.rawValue ? Array(buffer[..<offset]) : nil
        }
    }

    private static func withPool<T>(_ body: (inout amqp_pool_t) -> T) -> T {
        var pool = amqp_pool_t()
        init_amqp_pool(&pool, 4096)
        defer { empty_amqp_pool(&pool) }
        return body(&pool)
    }
}
