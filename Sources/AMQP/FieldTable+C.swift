import CRabbitMQ

// Kind letters, as rabbitmq-c names them (amqp.h, amqp_field_value_kind_t).
private enum Kind {
    static let boolean = UInt8(ascii: "t")
    static let i8 = UInt8(ascii: "b")
    static let u8 = UInt8(ascii: "B")
    static let i16 = UInt8(ascii: "s")
    static let u16 = UInt8(ascii: "u")
    static let i32 = UInt8(ascii: "I")
    static let u32 = UInt8(ascii: "i")
    static let i64 = UInt8(ascii: "l")
    static let u64 = UInt8(ascii: "L")
    static let f32 = UInt8(ascii: "f")
    static let f64 = UInt8(ascii: "d")
    static let decimal = UInt8(ascii: "D")
    static let utf8 = UInt8(ascii: "S")
    static let array = UInt8(ascii: "A")
    static let timestamp = UInt8(ascii: "T")
    static let table = UInt8(ascii: "F")
    static let void = UInt8(ascii: "V")
    static let bytes = UInt8(ascii: "x")
}

extension FieldValue {
    /// Encodes for the wire using only `S t I L d V A F`.
    ///
    /// py-amqp reads `L` as signed 64-bit and `l` as unsigned, swaps `b`/`B`, and reads `s` as a
    /// short string, so integers go out as `I` when they fit in 32 bits and as `L` (the Int64
    /// bit pattern in rabbitmq-c's U64 slot) otherwise. Floats, decimals and timestamps go out
    /// as `d` or `L`; byte strings as `S`.
    func cValue(in arena: CArena) -> amqp_field_value_t {
        var out = amqp_field_value_t()
        func integer(_ v: Int64) {
            if v >= Int64(Int32.min) && v <= Int64(Int32.max) {
                out.kind = Kind.i32
                out.value.i32 = Int32(v)
            } else {
                out.kind = Kind.u64
                out.value.u64 = UInt64(bitPattern: v)
            }
        }
        switch self {
        case let .bool(b):
            out.kind = Kind.boolean
            out.value.boolean = b ? 1 : 0
        case let .int8(v): integer(Int64(v))
        case let .uint8(v): integer(Int64(v))
        case let .int16(v): integer(Int64(v))
        case let .uint16(v): integer(Int64(v))
        case let .int32(v): integer(Int64(v))
        case let .uint32(v): integer(Int64(v))
        case let .int64(v): integer(v)
        case let .uint64(v):
            out.kind = Kind.u64
            out.value.u64 = v
        case let .timestamp(v):
            out.kind = Kind.u64
            out.value.u64 = v
        case .float, .double, .decimal:
            out.kind = Kind.f64
            out.value.f64 = doubleValue ?? 0
        case let .string(s):
            out.kind = Kind.utf8
            out.value.bytes = arena.bytes(s)
        case let .bytes(b):
            out.kind = Kind.utf8
            out.value.bytes = arena.bytes(b)
        case let .array(items):
            out.kind = Kind.array
            let entries = arena.array(of: amqp_field_value_t.self, count: items.count)
            for (index, item) in items.enumerated() {
                entries[index] = item.cValue(in: arena)
            }
            out.value.array = amqp_array_t(num_entries: Int32(items.count), entries: entries)
        case let .table(table):
            out.kind = Kind.table
            out.value.table = table.cTable(in: arena)
        case .void:
            out.kind = Kind.void
        }
        return out
    }

    /// Decodes any kind rabbitmq-c can read. `L` from Python is an Int64 bit pattern.
    init(_ value: amqp_field_value_t) {
        var strings = RecentStrings()
        self.init(value, strings: &strings)
    }

    /// Decodes as `init(_:)`, taking long strings decoded lately from `strings`.
    init(_ value: amqp_field_value_t, strings: inout RecentStrings) {
        switch value.kind {
        case Kind.boolean: self = .bool(value.value.boolean != 0)
        case Kind.i8: self = .int8(value.value.i8)
        case Kind.u8: self = .uint8(value.value.u8)
        case Kind.i16: self = .int16(value.value.i16)
        case Kind.u16: self = .uint16(value.value.u16)
        case Kind.i32: self = .int32(value.value.i32)
        case Kind.u32: self = .uint32(value.value.u32)
        case Kind.i64: self = .int64(value.value.i64)
        case Kind.u64: self = .int64(Int64(bitPattern: value.value.u64))
        case Kind.f32: self = .float(value.value.f32)
        case Kind.f64: self = .double(value.value.f64)
        case Kind.decimal:
            self = .decimal(scale: value.value.decimal.decimals, value: value.value.decimal.value)
        case Kind.utf8:
            // Straight from the frame buffer: no intermediate array, and no allocation at all
            // for a string of up to 15 bytes (most of Celery's headers).
            let raw = value.value.bytes.buffer
            if let s = strings.validated(raw) { self = .string(s) } else { self = .bytes(Array(raw)) }
        case Kind.bytes: self = .bytes(value.value.bytes.array)
        case Kind.timestamp: self = .timestamp(value.value.u64)
        case Kind.array:
            let array = value.value.array
            var items: [FieldValue] = []
            items.reserveCapacity(Int(array.num_entries))
            if let entries = array.entries {
                for index in 0..<Int(array.num_entries) { items.append(FieldValue(entries[index], strings: &strings)) }
            }
            self = .array(items)
        case Kind.table: self = .table(FieldTable(value.value.table, strings: &strings))
        default: self = .void
        }
    }
}

extension FieldTable {
    /// Encodes into arena memory; valid while the arena lives.
    package func cTable(in arena: CArena) -> amqp_table_t {
        if entries.isEmpty { return amqp_table_t(num_entries: 0, entries: nil) }
        let cEntries = arena.array(of: amqp_table_entry_t.self, count: entries.count)
        for (index, entry) in entries.enumerated() {
            cEntries[index] = amqp_table_entry_t(key: arena.bytes(entry.key), value: entry.value.cValue(in: arena))
        }
        return amqp_table_t(num_entries: Int32(entries.count), entries: cEntries)
    }

    /// Copies a table out of rabbitmq-c memory.
    package init(_ table: amqp_table_t) {
        var strings = RecentStrings()
        self.init(table, strings: &strings)
    }

    /// Copies a table out of rabbitmq-c memory, taking long strings decoded lately (names and
    /// values) from `strings`.
    init(_ table: amqp_table_t, strings: inout RecentStrings) {
        var entries: [Entry] = []
        if let cEntries = table.entries, table.num_entries > 0 {
            entries.reserveCapacity(Int(table.num_entries))
            for index in 0..<Int(table.num_entries) {
                let entry = cEntries[index]
                entries.append(Entry(key: entry.key.shortString(using: &strings), value: FieldValue(entry.value, strings: &strings)))
            }
        }
        self.init(entries)
    }
}
