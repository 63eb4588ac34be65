import AMQP
import Conveyor
import Foundation
import Testing

extension WireTests {
    @Suite("Task messages are read from what Celery and Conveyor send, and refused with a reason otherwise")
    struct TaskMessageDecoding {
        static let emptyEmbed = #"{"callbacks": null, "errbacks": null, "chain": null, "chord": null}"#

        /// The fully populated message of celery.md §2.6 as Conveyor would write it.
        static func populated() -> TaskMessage {
            var message = TaskMessage(id: "22222222-2222-2222-2222-222222222222", task: "proj.tasks.add", args: [2, "é", nil, 1.5],
                                      kwargs: ["y": 3, "nested": ["deep": [1, 2]]])
            message.callbacks = [Signature(task: "proj.tasks.tsum")]
            message.errbacks = [Signature(task: "proj.tasks.on_error", args: [[0]], immutable: true)]
            message.chain = [Signature(task: "proj.tasks.add", args: [8], options: ["task_id": "c3"])]
            message.chord = .object(Signature(task: "proj.tasks.tsum", options: ["task_id": "body", "group_id": "g"]).json)
            message.shadow = "alias"
            message.eta = WireTests.date(1_795_791_736.728838)
            message.expires = WireTests.date(1_795_791_786)
            message.group = "g"
            message.groupIndex = 1
            message.retries = 4
            message.timeLimit = 30
            message.softTimeLimit = 20.5
            message.rootId = "root-id"
            message.parentId = "parent-id"
            message.argsrepr = "(2, 'é', None, 1.5)"
            message.kwargsrepr = "{'y': 3}"
            message.origin = "gen42@builder"
            message.ignoreResult = true
            message.replacedTaskNesting = 2
            message.extraHeaders = ["x-custom": .string("v"), "x-number": .int32(7)]
            message.priority = 5
            message.replyTo = "72a95ea7-eaac-3118-9d5a-029fb310f754"
            message.expiration = "60000"
            return message
        }

        /// Compares every field; dates to the microsecond (the wire carries no more).
        static func expectSame(_ decoded: TaskMessage, _ expected: TaskMessage, sourceLocation: SourceLocation = #_sourceLocation) {
            func same<T: Equatable>(_ a: T, _ b: T, _ name: String) {
                #expect(a == b, "\(name): \(a) != \(b)", sourceLocation: sourceLocation)
            }
            func micros(_ date: Date?) -> String? { date.map(ISO8601.format) }
            same(decoded.id, expected.id, "id")
            same(decoded.task, expected.task, "task")
            same(decoded.args, expected.args, "args")
            same(decoded.kwargs, expected.kwargs, "kwargs")
            same(decoded.callbacks, expected.callbacks, "callbacks")
            same(decoded.errbacks, expected.errbacks, "errbacks")
            same(decoded.chain, expected.chain, "chain")
            same(decoded.chord, expected.chord, "chord")
            same(decoded.lang, expected.lang, "lang")
            same(decoded.shadow, expected.shadow, "shadow")
            same(micros(decoded.eta), micros(expected.eta), "eta")
            same(micros(decoded.expires), micros(expected.expires), "expires")
            same(decoded.group, expected.group, "group")
            same(decoded.groupIndex, expected.groupIndex, "groupIndex")
            same(decoded.retries, expected.retries, "retries")
            same(decoded.timeLimit, expected.timeLimit, "timeLimit")
            same(decoded.softTimeLimit, expected.softTimeLimit, "softTimeLimit")
            same(decoded.rootId, expected.rootId, "rootId")
            same(decoded.parentId, expected.parentId, "parentId")
            same(decoded.argsrepr, expected.argsrepr, "argsrepr")
            same(decoded.kwargsrepr, expected.kwargsrepr, "kwargsrepr")
            same(decoded.origin, expected.origin, "origin")
            same(decoded.ignoreResult, expected.ignoreResult, "ignoreResult")
            same(decoded.replacedTaskNesting, expected.replacedTaskNesting, "replacedTaskNesting")
            same(decoded.extraHeaders, expected.extraHeaders, "extraHeaders")
            same(decoded.priority, expected.priority, "priority")
            same(decoded.replyTo, expected.replyTo, "replyTo")
            same(decoded.expiration, expected.expiration, "expiration")
        }

        static func decode(_ properties: BasicProperties, _ body: String, maxBodySize: Int = .max) -> Result<TaskMessage, RejectionReason> {
            TaskMessage.decode(properties: properties, body: WireTests.bytes(body), maxBodySize: maxBodySize)
        }

        static func celeryProperties(headers: FieldTable = ["task": .string("proj.tasks.add"), "id": .string("id-1")],
                                     contentType: String? = "application/json") -> BasicProperties {
            BasicProperties(contentType: contentType, contentEncoding: "utf-8", headers: headers, deliveryMode: 2, priority: 0,
                            correlationId: "id-1")
        }

        @Test("decode reads back every field of what outgoing produced")
        func roundTrip() throws {
            let message = Self.populated()
            let out = message.outgoing(queue: "q1")
            let decoded = try TaskMessage.decode(properties: out.properties, body: out.body).get()
            Self.expectSame(decoded, message)
        }

        @Test("a minimal message reads back with Celery's defaults filled in")
        func minimalRoundTrip() throws {
            let message = TaskMessage(id: "11111111-1111-1111-1111-111111111111", task: "proj.tasks.add", args: [2, 2])
            let out = message.outgoing(queue: "celery")
            let decoded = try TaskMessage.decode(properties: out.properties, body: out.body).get()
            var expected = message
            expected.rootId = message.id
            expected.argsrepr = "(2, 2)"
            expected.kwargsrepr = "{}"
            expected.origin = out.properties.headers?["origin"]?.stringValue
            expected.priority = 0
            expected.replyTo = out.properties.replyTo
            Self.expectSame(decoded, expected)
        }

        @Test("the captured Celery 5.7 message of celery.md §2.6 reads into the right fields")
        func capturedCeleryMessage() throws {
            let id = "22222222-2222-2222-2222-222222222222"
            // As py-amqp puts Celery's headers on the wire (ints as I).
            let headers: FieldTable = [
                "lang": .string("py"), "task": .string("proj.tasks.add"), "id": .string(id), "shadow": .void,
                "eta": .string("2026-11-27T15:02:16.728838+00:00"), "expires": .string("2026-11-27T15:03:06.728838+00:00"),
                "group": .void, "group_index": .void, "retries": .int32(0), "timelimit": .array([.int32(30), .int32(20)]),
                "root_id": .string(id), "parent_id": .void, "argsrepr": .string("(2,)"), "kwargsrepr": .string("{'y': 3}"),
                "origin": .string("gen8797@vm"), "ignore_result": .bool(true), "replaced_task_nesting": .int32(0),
                "stamped_headers": .void, "stamps": .table([:]), "x-custom": .string("v"),
            ]
            let properties = BasicProperties(contentType: "application/json", contentEncoding: "utf-8", headers: headers, deliveryMode: 2,
                                             priority: 5, correlationId: id, replyTo: "72a95ea7-eaac-3118-9d5a-029fb310f754",
                                             expiration: "60000")
            let body = #"[[2], {"y": 3}, {"callbacks": null, "errbacks": null, "chain": null, "chord": null}]"#
            let message = try Self.decode(properties, body).get()
            #expect(message.task == "proj.tasks.add")
            #expect(message.id == id)
            #expect(message.args == [2])
            #expect(message.kwargs == ["y": 3])
            #expect(message.eta.map(ISO8601.format) == "2026-11-27T15:02:16.728838+00:00")
            #expect(message.expires.map(ISO8601.format) == "2026-11-27T15:03:06.728838+00:00")
            #expect(message.timeLimit == 30)
            #expect(message.softTimeLimit == 20)
            #expect(message.extraHeaders == ["x-custom": .string("v")])
            #expect(message.ignoreResult == true)
            #expect(message.priority == 5)
            #expect(message.expiration == "60000")
            #expect(message.replyTo == "72a95ea7-eaac-3118-9d5a-029fb310f754")
            #expect(message.origin == "gen8797@vm")
            #expect(message.argsrepr == "(2,)")
            #expect(message.kwargsrepr == "{'y': 3}")
            #expect(message.retries == 0)
            #expect(message.rootId == id)
            #expect(message.parentId == nil && message.group == nil && message.groupIndex == nil && message.shadow == nil)
            #expect(message.callbacks == nil && message.errbacks == nil && message.chain == nil && message.chord == nil)
            #expect(message.lang == "py")
            #expect(message.displayName == "proj.tasks.add")
            // Written out again, it is what Celery sent: same body bytes, same header kinds and values.
            #expect(message.body == WireTests.bytes(body))
            #expect(WireTests.kinds(message.headers) == WireTests.kinds(headers))
            #expect(message.headers.entries.map(\.key) == headers.entries.map(\.key))
            #expect(message.properties.priority == 5)
            #expect(message.properties.expiration == "60000")
        }

        @Test("time limits as floats, a missing soft limit, and eta as epoch seconds are read")
        func otherHeaderShapes() throws {
            let headers: FieldTable = ["task": .string("t"), "id": .string("i"), "timelimit": .array([.double(30.5), .void]),
                                       "eta": .double(1_795_791_736.5), "expires": .void, "shadow": .string("nicer"),
                                       "group_index": .int64(3), "retries": .int64(7)]
            let message = try Self.decode(Self.celeryProperties(headers: headers), "[[], {}, null]").get()
            #expect(message.timeLimit == 30.5)
            #expect(message.softTimeLimit == nil)
            #expect(message.eta == WireTests.date(1_795_791_736.5))
            #expect(message.expires == nil)
            #expect(message.displayName == "nicer")
            #expect(message.groupIndex == 3)
            #expect(message.retries == 7)
            #expect(message.lang == "py", "a missing lang reads as py")
        }

        @Test("a time limit that is NaN, infinite, zero or negative means no limit",
              arguments: [Double.nan, .infinity, -.infinity, 0, -5, 1e300])
        func unusableTimeLimits(seconds: Double) throws {
            let headers: FieldTable = ["task": .string("t"), "id": .string("i"), "timelimit": .array([.double(seconds), .double(seconds)])]
            let message = try Self.decode(Self.celeryProperties(headers: headers), "[[], {}, null]").get()
            if seconds.isFinite && seconds > 0 {
                #expect(message.timeLimit == seconds)
                #expect(message.softTimeLimit == seconds)
            } else {
                #expect(message.timeLimit == nil)
                #expect(message.softTimeLimit == nil)
            }
        }

        @Test("of a repeated header the first copy counts; custom headers keep their order; a bad eta is named before a bad expires")
        func repeatedHeaders() throws {
            func entry(_ key: String, _ value: FieldValue) -> FieldTable.Entry { .init(key: key, value: value) }
            let headers = FieldTable([
                entry("task", .string("t")), entry("id", .string("i")), entry("x-tenant", .string("a")),
                entry("retries", .int64(2)), entry("timelimit", .array([.int64(10), .int64(5)])), entry("eta", .void),
                entry("x-trace", .string("1")), entry("retries", .int64(9)), entry("timelimit", .void),
                entry("eta", .string("2026-01-01T00:00:00+00:00")), entry("x-tenant", .string("b")),
            ])
            let message = try Self.decode(Self.celeryProperties(headers: headers), "[[], {}, null]").get()
            #expect(message.retries == 2)
            #expect(message.timeLimit == 10 && message.softTimeLimit == 5)
            #expect(message.eta == nil, "the first eta is None")
            #expect(message.extraHeaders.entries.map(\.key) == ["x-tenant", "x-trace", "x-tenant"])
            #expect(message.extraHeaders["x-tenant"]?.stringValue == "a")

            let bothBad = FieldTable([entry("task", .string("t")), entry("id", .string("i")), entry("expires", .string("later")),
                                      entry("eta", .string("soon"))])
            guard case let .failure(reason) = Self.decode(Self.celeryProperties(headers: bothBad), "[[], {}, {}]") else {
                Issue.record("bad eta and expires accepted"); return
            }
            #expect(reason.code == "invalid-header" && reason.detail.contains("eta"))
        }

        @Test("content types: application/json with parameters and in any case is accepted")
        func contentTypeVariants() {
            for type in ["application/json", "application/json; charset=utf-8", "APPLICATION/JSON"] {
                let result = Self.decode(Self.celeryProperties(contentType: type), "[[], {}, {}]")
                #expect((try? result.get()) != nil, "\(type) was refused")
            }
        }

        static let rejections: [(String, BasicProperties, String, String)] = [
            ("pickle", celeryProperties(contentType: "application/x-python-serialize"), "\u{80}\u{4}K\u{1}.", "content-type"),
            ("yaml", celeryProperties(contentType: "application/x-yaml"), "[[], {}, {}]", "content-type"),
            ("no content type", celeryProperties(contentType: nil), "[[], {}, {}]", "content-type"),
            ("json lookalike", celeryProperties(contentType: "application/jsonp"), "[[], {}, {}]", "content-type"),
            ("gzip encoding", BasicProperties(contentType: "application/json", contentEncoding: "gzip",
                                              headers: ["task": .string("t"), "id": .string("i")]), "[[], {}, {}]", "content-encoding"),
            ("compressed", celeryProperties(headers: ["task": .string("t"), "id": .string("i"), "compression": .string("application/x-gzip")]),
             "[[], {}, {}]", "compressed"),
            ("no task header", celeryProperties(headers: ["id": .string("i")]), "[[], {}, {}]", "missing-header"),
            ("empty task header", celeryProperties(headers: ["task": .string(""), "id": .string("i")]), "[[], {}, {}]", "missing-header"),
            ("task header not a string", celeryProperties(headers: ["task": .int32(1), "id": .string("i")]), "[[], {}, {}]", "missing-header"),
            ("no id header", celeryProperties(headers: ["task": .string("t")]), "[[], {}, {}]", "missing-header"),
            ("no headers at all", BasicProperties(contentType: "application/json"), "[[], {}, {}]", "missing-header"),
            ("malformed JSON", celeryProperties(), "[[1], {}", "malformed-body"),
            ("body an object", celeryProperties(), #"{"args": []}"#, "malformed-body"),
            ("two-element body", celeryProperties(), "[[1], {}]", "malformed-body"),
            ("four-element body", celeryProperties(), "[[1], {}, {}, {}]", "malformed-body"),
            ("args not an array", celeryProperties(), "[{}, {}, {}]", "malformed-body"),
            ("kwargs not an object", celeryProperties(), "[[], [], {}]", "malformed-body"),
            ("embed not an object", celeryProperties(), "[[], {}, 5]", "malformed-body"),
            ("bad eta", celeryProperties(headers: ["task": .string("t"), "id": .string("i"), "eta": .string("tomorrow")]),
             "[[], {}, {}]", "invalid-header"),
            ("bad expires", celeryProperties(headers: ["task": .string("t"), "id": .string("i"), "expires": .bool(true)]),
             "[[], {}, {}]", "invalid-header"),
        ]

        @Test("each kind of bad message is refused with its reason code", arguments: rejections.indices)
        func rejection(_ index: Int) {
            let (name, properties, body, code) = Self.rejections[index]
            let result = Self.decode(properties, body)
            guard case let .failure(reason) = result else {
                Issue.record("\(name): accepted, expected \(code)")
                return
            }
            #expect(reason.code == code, "\(name): \(reason)")
            #expect(!reason.detail.isEmpty)
        }

        @Test("a body that is not UTF-8 is refused as malformed")
        func invalidUTF8Body() {
            let body: [UInt8] = Array(#"[["caf"#.utf8) + [0xE9] + Array(#""], {}, {}]"#.utf8)
            let result = TaskMessage.decode(properties: Self.celeryProperties(), body: body)
            guard case let .failure(reason) = result else { Issue.record("accepted invalid UTF-8"); return }
            #expect(reason.code == "malformed-body")
        }

        @Test("a body over the size limit is refused before it is parsed")
        func tooLarge() {
            let result = Self.decode(Self.celeryProperties(), "[[1, 2, 3], {}, {}]", maxBodySize: 10)
            guard case let .failure(reason) = result else { Issue.record("accepted an oversized body"); return }
            #expect(reason.code == "too-large")
            #expect(reason.detail.contains("19") && reason.detail.contains("10"))
            #expect((try? Self.decode(Self.celeryProperties(), "[[], {}, {}]", maxBodySize: 12).get()) != nil, "exactly at the limit is fine")
        }

        @Test("the reasons say what is wrong, naming the content type or header")
        func reasonDetails() {
            guard case let .failure(pickle) = Self.decode(Self.celeryProperties(contentType: "application/x-python-serialize"), "x") else {
                Issue.record("pickle accepted"); return
            }
            #expect(pickle.detail.contains("application/x-python-serialize"))
            #expect(pickle.description == "content-type: " + pickle.detail)
            guard case let .failure(noId) = Self.decode(Self.celeryProperties(headers: ["task": .string("t")]), "[[], {}, {}]") else {
                Issue.record("missing id accepted"); return
            }
            #expect(noId.detail.contains("'id'"))
            guard case let .failure(eta) = Self.decode(Self.celeryProperties(headers: ["task": .string("t"), "id": .string("i"),
                                                                                       "eta": .string("soon")]), "[[], {}, {}]") else {
                Issue.record("bad eta accepted"); return
            }
            #expect(eta.detail.contains("eta"))
        }
    }
}
