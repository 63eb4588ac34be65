@testable import AMQP
import CRabbitMQ
import Testing

/// The bytes rabbitmq-c's own encoder writes for these properties (flags and property list),
/// or its error status.
func encodedPropertiesByRabbitMQ(_ properties: BasicProperties, bufferSize: Int = 1 << 18) -> Int32 {
    CArena.with { arena in
        var cProperties = properties.cProperties(in: arena)
        var buffer = [UInt8](repeating: 0, count: bufferSize)
        return buffer.withUnsafeMutableBytes { raw in
            amqp_encode_properties(60, &cProperties, amqp_bytes_t(len: raw.count, bytes: raw.baseAddress))
        }
    }
}

/// Celery's headers for a task named `task`, as a client would send them.
func celeryLikeHeaders(task: String) -> FieldTable {
    [
        "lang": .string("py"), "task": .string(task), "id": .string("0b5a1c3e-8f7d-4a7e-9a5e-2d1f0c9b8a77"), "shadow": .void,
        "eta": .void, "expires": .void, "group": .void, "group_index": .void, "retries": .int64(0),
        "timelimit": .array([.void, .void]), "root_id": .string("0b5a1c3e-8f7d-4a7e-9a5e-2d1f0c9b8a77"), "parent_id": .void,
        "argsrepr": .string("(2, 3)"), "kwargsrepr": .string("{}"), "origin": .string("gen1@host"), "ignore_result": .bool(false),
        "replaced_task_nesting": .int64(0), "stamped_headers": .void, "stamps": .table([:]),
    ]
}

@Suite("Publish limits: what can never be published is known before a byte is written")
struct PublishLimitsTests {
    @Test("a table's computed size is what rabbitmq-c's encoder writes, for every value kind", arguments: FieldCase.all)
    func tableSizeMatchesEncoder(_ fieldCase: FieldCase) throws {
        let table: FieldTable = ["v": fieldCase.value, "a longer key": .array([fieldCase.value, fieldCase.value])]
        #expect(table.encodedSize == (try wireBytes(table)).count)
    }

    /// Found by `ops/fuzz field-table` (a 2.8 KB delivery that took over 10 s): an array of
    /// tables in a table measured each level twice, once for its size and once for its field
    /// names, so the work doubled with every level of nesting. Sixty levels would take 2^60 steps.
    @Test("nested arrays of tables are measured in one pass: sixty levels, size and an overlong name found at the bottom",
          .timeLimit(.minutes(1)))
    func nestedMeasuredOnce() throws {
        let deepKey = String(repeating: "k", count: 300)
        var value: FieldValue = .table([deepKey: .int32(1)])
        for _ in 0..<60 { value = .array([.table(["t": value])]) }
        let table: FieldTable = ["v": value]
        // Bytes per level: the array (kind, length) + the table (kind, length) + the name "t" (length, byte).
        let bottom = 1 + 4 + (1 + 300) + 5
        #expect(table.encodedSize == 4 + 2 + 60 * (5 + 1 + 4 + 2) + bottom)
        #expect(table.measured.overlongKey == String(deepKey.prefix(32)) + "…")
        let shallow: FieldTable = ["v": .array([.table(["t": .table(["x": .int32(1)])])])]
        #expect(shallow.encodedSize == (try wireBytes(shallow)).count)
    }

    @Test("properties' computed size is what rabbitmq-c's encoder writes")
    func propertiesSizeMatchesEncoder() {
        let cases: [BasicProperties] = [
            BasicProperties(),
            BasicProperties(contentType: "application/json", contentEncoding: "utf-8", headers: celeryLikeHeaders(task: "conveyor.add"),
                            deliveryMode: 2, priority: 0, correlationId: "id", replyTo: "reply", expiration: "1000"),
            BasicProperties(messageId: "m", timestamp: 1_700_000_000, type: "t", userId: "guest", appId: "app"),
            BasicProperties(headers: ["x": .table(["y": .array([.uint64(.max), .double(1), .string("é")])])]),
        ]
        for properties in cases {
            #expect(Int32(properties.encodedSize) == encodedPropertiesByRabbitMQ(properties))
        }
    }

    @Test("the budget is exact: properties of budget bytes encode into a frame, one byte more does not")
    func budgetBoundary() {
        let limits = PublishLimits()
        // Flags (2) + table length (4) + key length (1) + "task" (4) + kind (1) + string length (4).
        let overhead = 16
        let fits = BasicProperties(headers: ["task": .string(String(repeating: "t", count: limits.propertiesBudget - overhead))])
        let over = BasicProperties(headers: ["task": .string(String(repeating: "t", count: limits.propertiesBudget - overhead + 1))])
        #expect(fits.encodedSize == limits.propertiesBudget)
        // rabbitmq-c encodes properties into what is left of a frame_max buffer after the header.
        #expect(encodedPropertiesByRabbitMQ(fits, bufferSize: limits.propertiesBudget) == Int32(limits.propertiesBudget))
        #expect(encodedPropertiesByRabbitMQ(over, bufferSize: limits.propertiesBudget) == AMQP_STATUS_TABLE_TOO_BIG.rawValue)
        #expect(throws: Never.self) { try limits.check(OutgoingMessage(routingKey: "q", properties: fits, body: [])) }
        let error = #expect(throws: AMQPError.self) { try limits.check(OutgoingMessage(routingKey: "q", properties: over, body: [])) }
        #expect(error?.code == .messageTooLarge)
        #expect(error?.message.contains("\(limits.propertiesBudget)") == true)
    }

    @Test("what AMQP cannot carry is refused as invalidMessage, a body over the broker's limit as messageTooLarge")
    func refusals() {
        let limits = PublishLimits(frameMax: 131_072, maxBodySize: 10)
        let long = String(repeating: "k", count: 256)
        let cases: [(String, OutgoingMessage, AMQPError.Code)] = [
            ("long correlation id", OutgoingMessage(routingKey: "q", properties: BasicProperties(correlationId: long), body: []),
             .invalidMessage),
            ("long header name", OutgoingMessage(routingKey: "q", properties: BasicProperties(headers: [long: .void]), body: []),
             .invalidMessage),
            ("long nested header name",
             OutgoingMessage(routingKey: "q", properties: BasicProperties(headers: ["a": .array([.table([long: .void])])]), body: []),
             .invalidMessage),
            ("long routing key", OutgoingMessage(routingKey: long, body: []), .invalidMessage),
            ("long exchange", OutgoingMessage(exchange: long, routingKey: "q", body: []), .invalidMessage),
            ("body over the limit", OutgoingMessage(routingKey: "q", body: Array(repeating: 0, count: 11)), .messageTooLarge),
        ]
        for (name, message, code) in cases {
            let error = #expect(throws: AMQPError.self, "\(name)") { try limits.check(message) }
            #expect(error?.code == code, "\(name)")
        }
        let edge = OutgoingMessage(routingKey: String(repeating: "q", count: 255),
                                   properties: BasicProperties(headers: [String(repeating: "h", count: 255): .void],
                                                               correlationId: String(repeating: "c", count: 255)),
                                   body: Array(repeating: 0, count: 10))
        #expect(throws: Never.self) { try limits.check(edge) }
    }
}

@Suite("Publish refusals: a broker's channel close names the message it was about")
struct PublishRefusalTests {
    // Reply texts as RabbitMQ 3.10 sent them to rabbitmq-c 0.11 here.
    @Test("a body over the broker's max_message_size picks the message of that size and teaches the limit")
    func bodyTooLarge() throws {
        let refusal = try #require(PublishRefusal(
            replyCode: 406, text: "PRECONDITION_FAILED - message size 134217729 is larger than configured max size 134217728",
            classId: 60, methodId: 40))
        #expect(refusal.error.code == .messageTooLarge)
        #expect(refusal.maxBodySize == 134_217_728)
        #expect(refusal.matches(OutgoingMessage(routingKey: "q", body: [])) == false)
    }

    @Test("a missing or forbidden exchange picks a message to that exchange")
    func exchange() throws {
        let missing = try #require(PublishRefusal(replyCode: 404, text: "NOT_FOUND - no exchange 'no.such' in vhost '/'",
                                                  classId: 60, methodId: 40))
        #expect(missing.error.code == .notFound)
        #expect(missing.matches(OutgoingMessage(exchange: "no.such", routingKey: "q", body: [])))
        #expect(!missing.matches(OutgoingMessage(exchange: "other", routingKey: "q", body: [])))
        let refused = try #require(PublishRefusal(
            replyCode: 403, text: "ACCESS_REFUSED - access to exchange 'it's' in vhost '/' refused for user 'bob'",
            classId: 60, methodId: 40))
        #expect(refused.error.code == .accessRefused)
        #expect(refused.matches(OutgoingMessage(exchange: "it's", routingKey: "q", body: [])))
    }

    @Test("a bad expiration or user id picks the message that carries it")
    func properties() throws {
        let expiration = try #require(PublishRefusal(replyCode: 406, text: "PRECONDITION_FAILED - invalid expiration 'abc': no_integer",
                                                     classId: 60, methodId: 40))
        #expect(expiration.error.code == .invalidMessage)
        #expect(expiration.matches(OutgoingMessage(routingKey: "q", properties: BasicProperties(expiration: "abc"), body: [])))
        #expect(!expiration.matches(OutgoingMessage(routingKey: "q", properties: BasicProperties(expiration: "100"), body: [])))
        let user = try #require(PublishRefusal(
            replyCode: 406, text: "PRECONDITION_FAILED - user_id property set to 'bob' but authenticated user was 'guest'",
            classId: 60, methodId: 40))
        #expect(user.error.code == .invalidMessage)
        #expect(user.matches(OutgoingMessage(routingKey: "q", properties: BasicProperties(userId: "bob"), body: [])))
        #expect(!user.matches(OutgoingMessage(routingKey: "q", body: [])))
    }

    @Test("a close not caused by basic.publish, or whose reason names no message, picks nothing")
    func unidentified() {
        #expect(PublishRefusal(replyCode: 404, text: "NOT_FOUND - no exchange 'x' in vhost '/'", classId: 50, methodId: 10) == nil)
        #expect(PublishRefusal(replyCode: 406, text: #"PRECONDITION_FAILED - invalid message: {unacceptable_type_in_header,"CC",signedint}"#,
                               classId: 60, methodId: 40) == nil)
    }
}
