import AMQP
@testable import Conveyor
import Foundation
import Testing
import TestSupport

/// The bytes on the wire, compared with what Celery 5.7's own code sends and reads.
@Suite("Task message format matches Celery 5.7")
struct MessageFormatTests {
    /// Headers whose values differ per message or per process; their type and shape are still checked.
    static let variableHeaders: Set<String> = ["lang", "id", "root_id", "origin", "eta", "expires"]

    @Test("Swift builds the same headers (order, types, values), properties and body bytes as Celery's send_task")
    func swiftMessageMatchesCelery() async throws {
        try TestEnvironment.requirePython()
        let queue = TestEnvironment.uniqueQueue("format")
        let celery = try await runPython("capture_message.py", [queue])
        let now = Date()
        let options = TaskOptions(queue: queue, countdown: 10, expiresIn: 60, timeLimit: 30, softTimeLimit: 20, ignoreResult: true,
                                  headers: ["x-custom": .string("v")], priority: 5)
        let message = try options.message(task: "t.add", args: [2], kwargs: ["y": 3], now: now)
        let outgoing = message.outgoing(queue: queue)
        let headers = try #require(outgoing.properties.headers)

        // Headers: same keys in the same order, same Python types, same values but for the variable ones.
        let celeryHeaders = try #require(celery["headers"]?.object)
        #expect(headers.entries.map(\.key) == celeryHeaders.keys)
        let celeryTypes = try #require(celery["header_types"]?.array).compactMap { $0.array.flatMap { pair in pair.count == 2 ? pair : nil } }
        #expect(celeryTypes.count == 20, "Celery's 19 headers and x-custom")
        for pair in celeryTypes {
            guard let key = pair[0].string, let pythonType = pair[1].string else { continue }
            let value = try #require(headers[key], "Swift sends no '\(key)' header")
            #expect(pythonTypeName(value) == pythonType, "header \(key): Celery sends a \(pythonType), Swift \(value)")
            if !Self.variableHeaders.contains(key) {
                #expect(fieldJSON(value) == celeryHeaders[key], "header \(key)")
            }
        }
        #expect(headers["id"]?.stringValue == message.id)
        #expect(headers["root_id"] == headers["id"])
        #expect(celeryHeaders["root_id"] == celeryHeaders["id"])
        #expect(headers["lang"]?.stringValue?.isEmpty == false)
        let origin = try #require(headers["origin"]?.stringValue)
        #expect(origin.hasPrefix("gen\(ProcessInfo.processInfo.processIdentifier)@"))
        #expect(celeryHeaders["origin"]?.string?.hasPrefix("gen") == true)

        // eta = now + countdown and expires = now + 60, in Python's isoformat, on both sides.
        let sentAt = try #require(celery["sent_at"]?.double)
        for (key, offset) in [("eta", 10.0), ("expires", 60.0)] {
            let ours = try #require(headers[key]?.stringValue)
            let theirs = try #require(celeryHeaders[key]?.string)
            #expect(isPythonISOFormat(ours), "\(key) = \(ours)")
            #expect(isPythonISOFormat(theirs), "Celery's \(key) = \(theirs)")
            let ourDate = try #require(ISO8601.parse(ours))
            let theirDate = try #require(ISO8601.parse(theirs))
            #expect(abs(ourDate.timeIntervalSince(now) - offset) < 0.01, "\(key) \(ours)")
            #expect(abs(theirDate.timeIntervalSince1970 - sentAt - offset) < 2, "Celery's \(key) \(theirs)")
        }

        // Properties.
        let properties = outgoing.properties
        let celeryProperties = try #require(celery["properties"])
        #expect(properties.contentType == celery["content_type"]?.string)
        #expect(properties.contentEncoding == celery["content_encoding"]?.string)
        #expect(properties.priority.map { Int64($0) } == celery["priority"]?.int)
        #expect(properties.deliveryMode.map { Int64($0) } == celeryProperties["delivery_mode"]?.int)
        #expect(properties.correlationId == message.id)
        #expect(celeryProperties["correlation_id"] == celeryHeaders["id"])
        let replyTo = try #require(properties.replyTo)
        #expect(UUID(uuidString: replyTo) != nil, "reply_to \(replyTo) is an oid like Celery's \(celeryProperties["reply_to"]?.string ?? "nil")")
        #expect(properties.expiration == "60000")
        #expect(celeryProperties["expiration"] == "60000")
        // Nothing Celery leaves unset.
        #expect(properties.messageId == nil && properties.timestamp == nil && properties.type == nil && properties.userId == nil
                && properties.appId == nil)
        let celeryPropertyKeys = Set(try #require(celeryProperties.object).keys)
        #expect(celeryPropertyKeys == ["correlation_id", "reply_to", "delivery_mode", "expiration"])

        // Body: the same bytes.
        #expect(String(decoding: outgoing.body, as: UTF8.self) == celery["body"]?.string)

        // Routing: Celery publishes to the default exchange with the queue as routing key, and
        // declares the queue with a direct exchange of the same name, as WorkQueue does.
        #expect(outgoing.exchange == celery["exchange"]?.string)
        #expect(outgoing.routingKey == celery["routing_key"]?.string)
        let declared = try #require(celery["declare"]?[0])
        #expect(declared["queue"] == .string(queue) && declared["exchange"] == .string(queue) && declared["routing_key"] == .string(queue))
        #expect(declared["exchange_type"] == "direct" && declared["durable"] == true && declared["exchange_durable"] == true)
        #expect(declared["exclusive"] == false && declared["auto_delete"] == false && declared["arguments"] == .null)
        let work = WorkQueue(name: queue).declarations
        #expect(work.contains(.exchange(ExchangeDeclaration(name: queue, type: "direct", durable: true, acceptExisting: true))))
        #expect(work.contains(.queue(QueueDeclaration(name: queue, durable: true))))
        #expect(work.contains(.queueBinding(queue: queue, exchange: queue, routingKey: queue)))

        // A countdown goes through the delay cascade, with the routing key kombu computes for it.
        #expect(DelayedDelivery.routingKey(delay: 10, queue: queue) == celery["cascade_routing_key"]?.string)
        try await withClient(queue: queue) { client in
            let delayed = client.publisher.outgoing(message, queue: queue, now: now)
            #expect(delayed.exchange == "celery_delayed_27")
            #expect(delayed.routingKey == celery["cascade_routing_key"]?.string)
            #expect(delayed.body == outgoing.body)
        }
    }

    @Test("a message the Swift client published is read by kombu and parsed by Celery's worker Request as sent")
    func celeryReadsSwiftMessage() async throws {
        try TestEnvironment.requirePython()
        let queue = TestEnvironment.uniqueQueue("format-read")
        let when = Date(timeIntervalSince1970: 1_795_791_736.728838)
        let taskId = UUID().uuidString.lowercased()
        let args: [JSON] = [2, "é", nil, true, 1.5, .bigInt("18446744073709551617"), .bigInt("-1180591620717411303424"), 0.1, 1e-7, 1e300,
                            1e16, -0.0, 1.0, 123456789.125, "中文😀", "it's", "say \"hi\"", "both ' and \"", "tab\t nl\n nul\u{0} del\u{7f} back\\",
                            "nbsp\u{a0} zwsp\u{200b} line\u{2028}sep", "", [1, [2, ["x"]]], ["k": ["nested": true], "empty": [:]]]
        let kwargs: JSONObject = ["y": 3, "when": KombuEnvelope.datetime(when)]
        // An ETA just ahead is published straight to the queue (a longer one goes through the cascade).
        let eta = Date().addingTimeInterval(0.5)
        let options = TaskOptions(eta: eta, expiresIn: 60, timeLimit: 30, softTimeLimit: 20, ignoreResult: true,
                                  headers: ["x-custom": .string("v")], priority: 5, taskId: taskId)
        let expectedBody = try options.message(task: "t.add", args: args, kwargs: kwargs).body
        try await withClient(queue: queue) { client in
            _ = try await client.send(taskNamed: "t.add", args: args, kwargs: kwargs, options: options)
        }
        let read = try await runPython("consume_message.py", [queue, "t.add"])

        #expect(read["content_type"] == "application/json")
        #expect(read["content_encoding"] == "utf-8")
        #expect(read["delivery_info"]?["exchange"] == "")
        #expect(read["delivery_info"]?["routing_key"] == .string(queue))
        #expect(read["body_text"]?.string == String(decoding: expectedBody, as: UTF8.self))
        #expect(read["body_types"] == ["list", "dict", "dict"])
        #expect(read["body"]?[0] == .array(args))
        // kombu turned the envelope back into a datetime.
        #expect(read["body"]?[1]?["when"] == "datetime.datetime(2026, 11, 27, 15, 2, 16, 728838, tzinfo=datetime.timezone.utc)")

        // py-amqp decoded each header as the Python type Celery itself sends.
        let types = try #require(read["header_types"]?.array).map { $0.array?.compactMap(\.string) ?? [] }
        #expect(types == [["lang", "str"], ["task", "str"], ["id", "str"], ["shadow", "NoneType"], ["eta", "str"], ["expires", "str"],
                          ["group", "NoneType"], ["group_index", "NoneType"], ["retries", "int"], ["timelimit", "list"],
                          ["root_id", "str"], ["parent_id", "NoneType"], ["argsrepr", "str"], ["kwargsrepr", "str"], ["origin", "str"],
                          ["ignore_result", "bool"], ["replaced_task_nesting", "int"], ["stamped_headers", "NoneType"],
                          ["stamps", "dict"], ["x-custom", "str"]])
        let properties = try #require(read["properties"])
        #expect(properties["delivery_mode"] == 2)
        #expect(properties["priority"] == 5)
        #expect(properties["correlation_id"] == .string(taskId))
        #expect(properties["expiration"]?.string.flatMap { Int($0) }.map { (59_000...60_000).contains($0) } == true)

        // Celery's worker-side Request parsed every field.
        let request = try #require(read["request"])
        #expect(request["id"] == .string(taskId))
        #expect(request["name"] == "t.add")
        #expect(request["args"] == .array(args))
        #expect(request["root_id"] == .string(taskId))
        #expect(request["parent_id"] == .null)
        #expect(request["time_limits"] == [30, 20])
        #expect(request["ignore_result"] == true)
        #expect(request["priority"] == 5)
        #expect(request["correlation_id"] == .string(taskId))
        #expect(request["x_custom"] == "v")

        // Byte for byte what Python's json.dumps writes for the same values (\u escapes, surrogate
        // pairs, float spelling, big integers). argsrepr/kwargsrepr: see `argumentReprsMatchCelery`.
        let celeryWouldSend = try #require(read["celery_would_send"])
        #expect(read["body_text"] == celeryWouldSend["body"])
        let parsedEta = try #require(request["eta"]?.string.flatMap(ISO8601.parse))
        #expect(abs(parsedEta.timeIntervalSince(eta)) < 0.001)
        let parsedExpires = try #require(request["expires"]?.string.flatMap(ISO8601.parse))
        #expect(abs(parsedExpires.timeIntervalSince(eta) - 60) < 2)
    }
}

/// Arguments whose `argsrepr`/`kwargsrepr` headers are compared with Celery's.
struct ReprCase: Sendable, CustomTestStringConvertible {
    let label: String
    let args: [JSON]
    let kwargs: JSONObject
    var testDescription: String { label }

    static let all: [ReprCase] = [
        ReprCase(label: "plain values", args: [2, "é", nil, true, false, 1.5, .bigInt("18446744073709551617"), 0.1, 1e-7, 1e300, -0.0, "中文😀", "",
                                               [1, [2]], ["k": "v"]], kwargs: ["y": 3, "z": [nil]]),
        ReprCase(label: "a single argument", args: ["only"], kwargs: [:]),
        ReprCase(label: "a string with a single quote", args: ["it's"], kwargs: ["k": "don't"]),
        ReprCase(label: "control characters and a backslash", args: ["tab\t nl\n back\\"], kwargs: [:]),
        ReprCase(label: "nesting deeper than saferepr's 3 levels", args: [[1, [2, [3]]]], kwargs: ["a": ["b": ["c": 1]]]),
        ReprCase(label: "arguments longer than 1024 characters", args: [.string(String(repeating: "a", count: 2000))], kwargs: [:]),
    ]
}

extension MessageFormatTests {
    @Test("argsrepr and kwargsrepr are what Celery's client writes (saferepr of args and kwargs)", arguments: ReprCase.all)
    func argumentReprsMatchCelery(_ repr: ReprCase) async throws {
        try TestEnvironment.requirePython()
        let input = JSON.array([.array([.array(repr.args), .object(repr.kwargs)])]).text(.compact)
        let celery = try #require(try await runPython("reprs.py", [input]).array?.first)
        let headers = try TaskOptions().message(task: "t.add", args: repr.args, kwargs: repr.kwargs).headers
        for key in ["argsrepr", "kwargsrepr"] {
            let ours = headers[key]?.stringValue ?? "nil"
            let theirs = celery[key]?.string ?? "nil"
            let same = ours == theirs  // (not inside #expect, which would print 2000-character operands)
            #expect(same, "\(key): Swift \(excerpt(ours)), Celery \(excerpt(theirs))")
        }
    }
}

/// A long text shortened for a failure message (length, start and end).
private func excerpt(_ text: String) -> String {
    let shown = text.count <= 80 ? text : "\(text.prefix(30))…\(text.suffix(30)) (\(text.count) characters)"
    return "«" + shown.replacingOccurrences(of: "\t", with: "⇥").replacingOccurrences(of: "\n", with: "⏎") + "»"
}

/// The Python type py-amqp decodes a header value as.
private func pythonTypeName(_ value: FieldValue) -> String {
    switch value {
    case .string: return "str"
    case .bytes: return "bytes"
    case .void: return "NoneType"
    case .bool: return "bool"
    case .int8, .uint8, .int16, .uint16, .int32, .uint32, .int64, .uint64: return "int"
    case .float, .double: return "float"
    case .decimal: return "Decimal"
    case .timestamp: return "datetime"
    case .array: return "list"
    case .table: return "dict"
    }
}

/// A header value as the JSON Python's `json.dumps` prints for it.
private func fieldJSON(_ value: FieldValue) -> JSON {
    switch value {
    case let .string(s): return .string(s)
    case let .bool(b): return .bool(b)
    case .void: return .null
    case let .float(f): return .double(Double(f))
    case let .double(d): return .double(d)
    case let .array(items): return .array(items.map(fieldJSON))
    case let .table(table): return .object(JSONObject(table.entries.map { (key: $0.key, value: fieldJSON($0.value)) }))
    default:
        if let int = value.intValue { return .int(int) }
        return .string("\(value)")
    }
}

/// `2026-11-27T15:02:16.728838+00:00` or, with no microseconds, `2026-11-27T15:02:16+00:00`.
private func isPythonISOFormat(_ text: String) -> Bool {
    text.wholeMatch(of: /\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{6})?\+00:00/) != nil
}
