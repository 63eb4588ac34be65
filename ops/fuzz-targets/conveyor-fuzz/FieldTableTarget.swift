import AMQP

/// An AMQP field table as a broker or another client sends it (message headers, queue
/// arguments), decoded by rabbitmq-c and converted by Conveyor. What Conveyor writes for it
/// must be a table rabbitmq-c reads back with the same keys and values (`FieldMeaning`); the
/// first write may change kinds, and from the second on writing settles (same bytes each time).
/// The size the publish check computes for it (`encodedSize`) is the size rabbitmq-c writes.
enum FieldTableTarget {
    static func run(_ data: [UInt8]) {
        guard let table = RabbitWire.decodeTable(data) else { return }
        for entry in table {
            _ = (entry.value.intValue, entry.value.doubleValue, entry.value.stringValue, entry.value.boolValue, entry.value.isVoid)
        }
        _ = table["task"]
        guard let written = RabbitWire.encodeTable(table) else { return check(false, "a decoded table cannot be encoded again") }
        check(written.count == table.encodedSize, "encodedSize is \(table.encodedSize), rabbitmq-c wrote \(written.count) bytes")
        guard let reread = RabbitWire.decodeTable(written) else { return check(false, "rabbitmq-c refuses the table Conveyor wrote") }
        check(FieldMeaning.same(table, reread), "the table means something else once written and read:\n\(table)\n\(reread)")
        guard let again = RabbitWire.encodeTable(reread) else { return check(false, "a table Conveyor wrote and read cannot be encoded") }
        guard let settled = RabbitWire.decodeTable(again).flatMap(RabbitWire.encodeTable) else {
            return check(false, "rabbitmq-c refuses the table Conveyor wrote the second time")
        }
        check(settled == again, "the table still changes on its second write")
    }
}
