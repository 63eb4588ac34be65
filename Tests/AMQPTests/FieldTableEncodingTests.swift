@testable import AMQP
import CRabbitMQ
import Testing

/// One value, the kind letters Conveyor must put on the wire for it, and what comes back.
struct FieldCase: Sendable, CustomTestStringConvertible {
    let name: String
    let value: FieldValue
    /// Kind letters, nested: `A[I,S]`, `F{k:L}`.
    let kinds: String
    let decoded: FieldValue

    init(_ name: String, _ value: FieldValue, _ kinds: String, _ decoded: FieldValue) {
        self.name = name
        self.value = value
        self.kinds = kinds
        self.decoded = decoded
    }

    var testDescription: String { name }

    static let all: [FieldCase] = [
        FieldCase("bool true", .bool(true), "t", .bool(true)),
        FieldCase("bool false", .bool(false), "t", .bool(false)),
        FieldCase("int8 min", .int8(-128), "I", .int32(-128)),
        FieldCase("uint8 max", .uint8(255), "I", .int32(255)),
        FieldCase("int16 min", .int16(-32768), "I", .int32(-32768)),
        FieldCase("uint16 max", .uint16(65535), "I", .int32(65535)),
        FieldCase("int32 min", .int32(.min), "I", .int32(.min)),
        FieldCase("int32 max", .int32(.max), "I", .int32(.max)),
        FieldCase("uint32 within Int32", .uint32(2_147_483_647), "I", .int32(2_147_483_647)),
        FieldCase("uint32 beyond Int32", .uint32(2_147_483_648), "L", .int64(2_147_483_648)),
        FieldCase("uint32 max", .uint32(.max), "L", .int64(4_294_967_295)),
        FieldCase("int64 zero", .int64(0), "I", .int32(0)),
        FieldCase("int64 at Int32 min", .int64(-2_147_483_648), "I", .int32(.min)),
        FieldCase("int64 below Int32 min", .int64(-2_147_483_649), "L", .int64(-2_147_483_649)),
        FieldCase("int64 above Int32 max", .int64(1 << 40), "L", .int64(1 << 40)),
        FieldCase("int64 max", .int64(.max), "L", .int64(.max)),
        FieldCase("int64 min", .int64(.min), "L", .int64(.min)),
        FieldCase("uint64 small", .uint64(1), "L", .int64(1)),
        FieldCase("uint64 max as bit pattern", .uint64(.max), "L", .int64(-1)),
        FieldCase("uint64 top bit as bit pattern", .uint64(1 << 63), "L", .int64(.min)),
        FieldCase("float", .float(1.5), "d", .double(1.5)),
        FieldCase("float widened exactly", .float(0.1), "d", .double(Double(Float(0.1)))),
        FieldCase("double", .double(-0.25), "d", .double(-0.25)),
        FieldCase("double infinity", .double(.infinity), "d", .double(.infinity)),
        FieldCase("decimal", .decimal(scale: 2, value: 12345), "d", .double(123.45)),
        FieldCase("empty string", .string(""), "S", .string("")),
        FieldCase("unicode string", .string("héllo 中 😀"), "S", .string("héllo 中 😀")),
        FieldCase("bytes that are UTF-8", .bytes(Array("abc".utf8)), "S", .string("abc")),
        FieldCase("bytes that are not UTF-8", .bytes([0xFF, 0x00, 0xFE]), "S", .bytes([0xFF, 0x00, 0xFE])),
        FieldCase("empty bytes", .bytes([]), "S", .string("")),
        FieldCase("timestamp", .timestamp(1_700_000_000), "L", .int64(1_700_000_000)),
        FieldCase("void", .void, "V", .void),
        FieldCase("empty array", .array([]), "A[]", .array([])),
        FieldCase("mixed array",
                  .array([.int8(1), .string("x"), .void, .array([.bool(true)]), .uint64(.max), .table(["k": .uint32(.max)])]),
                  "A[I,S,V,A[t],L,F{k:L}]",
                  .array([.int32(1), .string("x"), .void, .array([.bool(true)]), .int64(-1), .table(["k": .int64(4_294_967_295)])])),
        FieldCase("empty table", .table([:]), "F{}", .table([:])),
        FieldCase("nested table",
                  .table(["n": .table(["deep": .float(2.5), "list": .array([.int16(7)])]), "s": .bytes([0xC3, 0xA9])]),
                  "F{n:F{deep:d,list:A[I]},s:S}",
                  .table(["n": .table(["deep": .double(2.5), "list": .array([.int32(7)])]), "s": .string("é")])),
    ]
}

/// Kind letters of a C value, nested, for comparison with `FieldCase.kinds`.
func kindSignature(_ value: amqp_field_value_t) -> String {
    let letter = String(UnicodeScalar(value.kind))
    switch value.kind {
    case UInt8(ascii: "A"):
        let array = value.value.array
        let items = (0..<Int(array.num_entries)).map { kindSignature(array.entries[$0]) }
        return "A[" + items.joined(separator: ",") + "]"
    case UInt8(ascii: "F"):
        return "F{" + tableSignature(value.value.table) + "}"
    default:
        return letter
    }
}

func tableSignature(_ table: amqp_table_t) -> String {
    (0..<Int(table.num_entries)).map { index in
        let entry = table.entries[index]
        return entry.key.string + ":" + kindSignature(entry.value)
    }.joined(separator: ",")
}

/// The AMQP wire bytes of a table, as rabbitmq-c's own encoder writes them (length prefix included).
func wireBytes(_ table: FieldTable) throws -> [UInt8] {
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

/// A table read back from wire bytes with rabbitmq-c's own decoder.
func decodeWire(_ bytes: [UInt8]) throws -> FieldTable {
    var pool = amqp_pool_t()
    init_amqp_pool(&pool, 4096)
    defer { empty_amqp_pool(&pool) }
    var output = amqp_table_t()
    var offset = 0
    var copy = bytes
    let status = copy.withUnsafeMutableBytes { raw in
        amqp_decode_table(amqp_bytes_t(len: raw.count, bytes: raw.baseAddress), &pool, &output, &offset)
    }
    try #require(status == AMQP_STATUS_OK.rawValue, "amqp_decode_table failed: \(status)")
    #expect(offset == bytes.count, "the decoder consumed the whole encoding")
    return FieldTable(output)
}

@Suite("Field tables: only S t I L d V A F go out, everything comes back")
struct FieldTableEncodingTests {
    @Test("each value kind is emitted as the kind py-amqp reads back as meant", arguments: FieldCase.all)
    func emittedKinds(_ fieldCase: FieldCase) {
        let table: FieldTable = ["v": fieldCase.value]
        let signature = CArena.with { arena in tableSignature(table.cTable(in: arena)) }
        #expect(signature == "v:" + fieldCase.kinds)
    }

    @Test("each value kind survives the C structures, normalised", arguments: FieldCase.all)
    func cStructureRoundTrip(_ fieldCase: FieldCase) {
        let table: FieldTable = ["v": fieldCase.value]
        let decoded = CArena.with { arena in FieldTable(table.cTable(in: arena)) }
        #expect(decoded == ["v": fieldCase.decoded])
    }

    @Test("each value kind survives rabbitmq-c's wire encoder and decoder, normalised", arguments: FieldCase.all)
    func wireRoundTrip(_ fieldCase: FieldCase) throws {
        let decoded = try decodeWire(try wireBytes(["v": fieldCase.value]))
        #expect(decoded == ["v": fieldCase.decoded])
    }

    @Test("a table keeps its key order both ways")
    func keyOrder() throws {
        let table: FieldTable = ["zeta": .int32(1), "alpha": .string("a"), "mid": .void, "beta": .bool(false)]
        let viaC = CArena.with { arena in FieldTable(table.cTable(in: arena)) }
        #expect(viaC.entries.map(\.key) == ["zeta", "alpha", "mid", "beta"])
        let viaWire = try decodeWire(try wireBytes(table))
        #expect(viaWire.entries.map(\.key) == ["zeta", "alpha", "mid", "beta"])
        #expect(viaWire == table)
    }

    @Test("an empty table is a zero length on the wire")
    func emptyTable() throws {
        #expect(try wireBytes([:]) == [0, 0, 0, 0])
        #expect(try decodeWire([0, 0, 0, 0]).isEmpty)
    }

    @Test("{retries: 0} is written exactly as py-amqp writes it")
    func retriesBytes() throws {
        let expected: [UInt8] = [0x00, 0x00, 0x00, 0x0D, 0x07] + Array("retries".utf8) + [UInt8(ascii: "I"), 0x00, 0x00, 0x00, 0x00]
        #expect(try wireBytes(["retries": .int64(0)]) == expected)
    }

    @Test("every emitted kind has the byte layout the AMQP 0-9-1 spec (and py-amqp) expect")
    func everyEmittedKindBytes() throws {
        let table: FieldTable = [
            "s": .string("py"),
            "t": .bool(true),
            "i": .int32(-2),
            "l": .int64(1 << 40),
            "d": .double(1.5),
            "v": .void,
            "a": .array([.void, .int32(1)]),
            "f": .table([:]),
        ]
        var body: [UInt8] = []
        body += [0x01, UInt8(ascii: "s"), UInt8(ascii: "S"), 0x00, 0x00, 0x00, 0x02, UInt8(ascii: "p"), UInt8(ascii: "y")]
        body += [0x01, UInt8(ascii: "t"), UInt8(ascii: "t"), 0x01]
        body += [0x01, UInt8(ascii: "i"), UInt8(ascii: "I"), 0xFF, 0xFF, 0xFF, 0xFE]
        body += [0x01, UInt8(ascii: "l"), UInt8(ascii: "L"), 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00]
        body += [0x01, UInt8(ascii: "d"), UInt8(ascii: "d"), 0x3F, 0xF8, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00]
        body += [0x01, UInt8(ascii: "v"), UInt8(ascii: "V")]
        body += [0x01, UInt8(ascii: "a"), UInt8(ascii: "A"), 0x00, 0x00, 0x00, 0x06, UInt8(ascii: "V"), UInt8(ascii: "I"), 0x00, 0x00, 0x00, 0x01]
        body += [0x01, UInt8(ascii: "f"), UInt8(ascii: "F"), 0x00, 0x00, 0x00, 0x00]
        let expected = [0x00, 0x00, 0x00, UInt8(body.count)] + body
        #expect(try wireBytes(table) == expected)
    }

    @Test("every kind rabbitmq-c can decode is read, including kinds Conveyor never emits")
    func decodesForeignKinds() {
        func value(_ kind: Unicode.Scalar, _ fill: (inout amqp_field_value_t) -> Void) -> amqp_field_value_t {
            var v = amqp_field_value_t()
            v.kind = UInt8(ascii: kind)
            fill(&v)
            return v
        }
        #expect(FieldValue(value("b") { $0.value.i8 = -5 }) == .int8(-5))
        #expect(FieldValue(value("B") { $0.value.u8 = 250 }) == .uint8(250))
        #expect(FieldValue(value("s") { $0.value.i16 = -300 }) == .int16(-300))
        #expect(FieldValue(value("u") { $0.value.u16 = 65000 }) == .uint16(65000))
        #expect(FieldValue(value("I") { $0.value.i32 = -70000 }) == .int32(-70000))
        #expect(FieldValue(value("i") { $0.value.u32 = 4_000_000_000 }) == .uint32(4_000_000_000))
        #expect(FieldValue(value("l") { $0.value.i64 = -5_000_000_000 }) == .int64(-5_000_000_000))
        #expect(FieldValue(value("L") { $0.value.u64 = UInt64(bitPattern: -7) }) == .int64(-7), "L from Python is an Int64 bit pattern")
        #expect(FieldValue(value("f") { $0.value.f32 = 0.5 }) == .float(0.5))
        #expect(FieldValue(value("d") { $0.value.f64 = 2.25 }) == .double(2.25))
        #expect(FieldValue(value("D") { $0.value.decimal = amqp_decimal_t(decimals: 3, value: 1500) }) == .decimal(scale: 3, value: 1500))
        #expect(FieldValue(value("T") { $0.value.u64 = 1_700_000_000 }) == .timestamp(1_700_000_000))
        #expect(FieldValue(value("t") { $0.value.boolean = 1 }) == .bool(true))
        #expect(FieldValue(value("V") { _ in }) == .void)
        CArena.with { arena in
            #expect(FieldValue(value("x") { $0.value.bytes = arena.bytes([0x00, 0xFF]) }) == .bytes([0x00, 0xFF]))
            #expect(FieldValue(value("S") { $0.value.bytes = arena.bytes("ok") }) == .string("ok"))
        }
    }

    @Test("numeric accessors read every integer and float kind")
    func accessors() {
        #expect(FieldValue.int8(-3).intValue == -3)
        #expect(FieldValue.uint32(.max).intValue == 4_294_967_295)
        #expect(FieldValue.uint64(.max).intValue == nil)
        #expect(FieldValue.timestamp(5).intValue == 5)
        #expect(FieldValue.decimal(scale: 2, value: 150).doubleValue == 1.5)
        #expect(FieldValue.float(0.5).doubleValue == 0.5)
        #expect(FieldValue.int32(7).doubleValue == 7)
        #expect(FieldValue.bytes(Array("hi".utf8)).stringValue == "hi")
        #expect(FieldValue.bytes([0xFF]).stringValue == nil)
        #expect(FieldValue.void.isVoid)
        #expect(FieldValue.bool(true).boolValue == true)
        #expect(FieldValue.string("true").boolValue == nil)
    }
}
