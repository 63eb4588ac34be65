import AMQP
import Conveyor
import Foundation
import Testing

extension WireTests {
    @Suite("Task messages are written as Celery 5.7 writes them")
    struct TaskMessageEncoding {
        static let celeryHeaderKeys = [
            "lang", "task", "id", "shadow", "eta", "expires", "group", "group_index", "retries", "timelimit",
            "root_id", "parent_id", "argsrepr", "kwargsrepr", "origin", "ignore_result", "replaced_task_nesting",
            "stamped_headers", "stamps",
        ]

        @Test("the headers are Celery's 19 keys in Celery's order, then custom ones (which cannot replace Celery's)")
        func headerOrder() {
            var message = TaskMessage(task: "proj.tasks.add", args: [2, 2])
            message.extraHeaders = ["x-custom": .string("v"), "task": .string("evil.override"), "x-second": .int32(2)]
            let headers = message.headers
            #expect(headers.entries.map(\.key) == Self.celeryHeaderKeys + ["x-custom", "x-second"])
            #expect(headers["task"] == .string("proj.tasks.add"))
            #expect(headers["x-custom"] == .string("v"))
        }

        /// Found by `ops/fuzz task-message`: decoding kept a repeated custom header (`rorigin` twice
        /// in the fuzzer's input), writing dropped the second copy, so a retry or chain step carried
        /// other headers than the message it came from.
        @Test("a custom header that arrived twice is written twice, in order, and reads back the same")
        func repeatedCustomHeaders() throws {
            let incoming = BasicProperties(contentType: "application/json", headers: FieldTable([
                .init(key: "task", value: .string("t.add")), .init(key: "id", value: .string("i")),
                .init(key: "rorigin", value: .int32(0)), .init(key: "x-trace", value: .string("1")),
                .init(key: "rorigin", value: .string("55020b15-4f16-49c0-86b4-71a5a5b51831")),
            ]))
            let message = try TaskMessage.decode(properties: incoming, body: Array("[[], {}, {}]".utf8)).get()
            #expect(message.extraHeaders.entries.map(\.key) == ["rorigin", "x-trace", "rorigin"])
            #expect(Array(message.headers.entries.map(\.key).dropFirst(19)) == ["rorigin", "x-trace", "rorigin"])
            let reread = try TaskMessage.decode(properties: message.properties, body: message.body).get()
            #expect(reread.extraHeaders == message.extraHeaders)
        }

        @Test("a minimal task's headers have Celery's values and wire kinds (V for None, I for ints, A [V, V], F {})")
        func minimalHeaders() {
            let message = TaskMessage(id: "11111111-1111-1111-1111-111111111111", task: "proj.tasks.add", args: [2, 2])
            let headers = message.headers
            #expect(headers["lang"] == .string("py"))
            #expect(headers["id"] == .string(message.id))
            #expect(headers["shadow"] == .void)
            #expect(headers["eta"] == .void)
            #expect(headers["expires"] == .void)
            #expect(headers["group"] == .void)
            #expect(headers["group_index"] == .void)
            #expect(headers["retries"]?.intValue == 0)
            #expect(headers["timelimit"] == .array([.void, .void]))
            #expect(headers["root_id"] == .string(message.id))
            #expect(headers["parent_id"] == .void)
            #expect(headers["argsrepr"] == .string("(2, 2)"))
            #expect(headers["kwargsrepr"] == .string("{}"))
            #expect(headers["ignore_result"] == .bool(false))
            #expect(headers["replaced_task_nesting"]?.intValue == 0)
            #expect(headers["stamped_headers"] == .void)
            #expect(headers["stamps"] == .table([:]))
            let origin = headers["origin"]?.stringValue ?? ""
            #expect(origin.hasPrefix("gen\(ProcessInfo.processInfo.processIdentifier)@"), "origin \(origin) is not gen<pid>@<host>")
            #expect(WireTests.kinds(headers) == "lang:S,task:S,id:S,shadow:V,eta:V,expires:V,group:V,group_index:V,retries:I,"
                + "timelimit:A[V,V],root_id:S,parent_id:V,argsrepr:S,kwargsrepr:S,origin:S,ignore_result:t,"
                + "replaced_task_nesting:I,stamped_headers:V,stamps:F{}")
        }

        @Test("every optional header carries its value when set")
        func fullHeaders() {
            var message = TaskMessage(id: "22222222-2222-2222-2222-222222222222", task: "proj.tasks.add", args: [2], kwargs: ["y": 3])
            message.shadow = "alias"
            message.eta = WireTests.date(1_795_791_736.728838)
            message.expires = WireTests.date(1_795_791_786.728838)
            message.group = "g-1"
            message.groupIndex = 3
            message.retries = 2
            message.timeLimit = 30
            message.softTimeLimit = 20
            message.rootId = "root"
            message.parentId = "parent"
            message.origin = "gen1@host"
            message.ignoreResult = true
            message.replacedTaskNesting = 1
            let headers = message.headers
            #expect(headers["shadow"] == .string("alias"))
            #expect(headers["eta"] == .string("2026-11-27T15:02:16.728838+00:00"))
            #expect(headers["expires"] == .string("2026-11-27T15:03:06.728838+00:00"))
            #expect(headers["group"] == .string("g-1"))
            #expect(headers["group_index"]?.intValue == 3)
            #expect(headers["retries"]?.intValue == 2)
            #expect(WireTests.numbers(headers["timelimit"]) == [30, 20])
            #expect(headers["root_id"] == .string("root"))
            #expect(headers["parent_id"] == .string("parent"))
            #expect(headers["argsrepr"] == .string("(2,)"))
            #expect(headers["kwargsrepr"] == .string("{'y': 3}"))
            #expect(headers["origin"] == .string("gen1@host"))
            #expect(headers["ignore_result"] == .bool(true))
            #expect(headers["replaced_task_nesting"]?.intValue == 1)
            #expect(WireTests.kinds(headers) == "lang:S,task:S,id:S,shadow:S,eta:S,expires:S,group:S,group_index:I,retries:I,"
                + "timelimit:A[I,I],root_id:S,parent_id:S,argsrepr:S,kwargsrepr:S,origin:S,ignore_result:t,"
                + "replaced_task_nesting:I,stamped_headers:V,stamps:F{}")
        }

        @Test("time limits: whole seconds as ints, fractions as doubles, a missing one as None")
        func timeLimits() {
            var message = TaskMessage(task: "t")
            message.timeLimit = 2.5
            message.softTimeLimit = nil
            #expect(WireTests.kinds(["timelimit": message.headers["timelimit"] ?? .void]) == "timelimit:A[d,V]")
            #expect(WireTests.numbers(message.headers["timelimit"]) == [2.5])
            message.timeLimit = nil
            message.softTimeLimit = 10
            #expect(WireTests.kinds(["timelimit": message.headers["timelimit"] ?? .void]) == "timelimit:A[V,I]")
        }

        @Test("properties: JSON, UTF-8, persistent, priority 0 always present, correlation id = task id, expiration only when set")
        func properties() {
            var message = TaskMessage(id: "33333333-3333-3333-3333-333333333333", task: "proj.tasks.add")
            var properties = message.properties
            #expect(properties.contentType == "application/json")
            #expect(properties.contentEncoding == "utf-8")
            #expect(properties.deliveryMode == 2)
            #expect(properties.priority == 0)
            #expect(properties.correlationId == message.id)
            #expect(properties.expiration == nil)
            #expect(properties.headers == message.headers)
            #expect(properties.messageId == nil && properties.timestamp == nil && properties.type == nil)
            #expect(properties.userId == nil && properties.appId == nil)
            let replyTo = properties.replyTo ?? ""
            #expect(UUID(uuidString: replyTo) != nil && replyTo == replyTo.lowercased(), "reply_to \(replyTo) is not a lowercase UUID")

            message.priority = 5
            message.expiration = "60000"
            message.replyTo = "72a95ea7-eaac-3118-9d5a-029fb310f754"
            properties = message.properties
            #expect(properties.priority == 5)
            #expect(properties.expiration == "60000")
            #expect(properties.replyTo == "72a95ea7-eaac-3118-9d5a-029fb310f754")
        }

        @Test("outgoing publishes to the default exchange with the queue as routing key, mandatory")
        func outgoing() {
            let message = TaskMessage(task: "proj.tasks.add", args: [1])
            let out = message.outgoing(queue: "q1")
            #expect(out.exchange == "")
            #expect(out.routingKey == "q1")
            #expect(out.mandatory)
            #expect(out.body == message.body)
            #expect(out.properties == message.properties)
            let routed = message.outgoing(queue: "q1", exchange: "celery_delayed_27", routingKey: "0.1.q1", mandatory: false)
            #expect(routed.exchange == "celery_delayed_27")
            #expect(routed.routingKey == "0.1.q1")
            #expect(!routed.mandatory)
        }

        @Test("the body is json.dumps([args, kwargs, embed]) byte for byte")
        func body() {
            #expect(TaskMessage(task: "t", args: [2, 2]).body
                == WireTests.bytes(#"[[2, 2], {}, {"callbacks": null, "errbacks": null, "chain": null, "chord": null}]"#))
            #expect(TaskMessage(task: "t", args: [2], kwargs: ["y": 3]).body
                == WireTests.bytes(#"[[2], {"y": 3}, {"callbacks": null, "errbacks": null, "chain": null, "chord": null}]"#))
            #expect(TaskMessage(task: "t", args: ["é", 1.5, nil], kwargs: ["b": true, "a": [:]]).body
                == WireTests.bytes(#"[["\u00e9", 1.5, null], {"b": true, "a": {}}, {"callbacks": null, "errbacks": null, "chain": null, "chord": null}]"#))
        }

        @Test("link and link_error signatures are embedded as Celery 5.7 embeds them")
        func links() {
            var message = TaskMessage(task: "proj.tasks.add", args: [1, 1])
            message.callbacks = [Signature(task: "proj.tasks.tsum")]
            message.errbacks = [Signature(task: "proj.tasks.tsum", args: [[0]], immutable: true)]
            let expected = #"[[1, 1], {}, {"callbacks": [{"task": "proj.tasks.tsum", "args": [], "kwargs": {}, "options": {}, "subtask_type": null, "immutable": false}], "#
                + #""errbacks": [{"task": "proj.tasks.tsum", "args": [[0]], "kwargs": {}, "options": {}, "subtask_type": null, "immutable": true}], "#
                + #""chain": null, "chord": null}]"#
            #expect(message.body == WireTests.bytes(expected))
        }

        @Test("a chain travels reversed in embed.chain, a chord body in embed.chord")
        func chainAndChord() throws {
            var message = TaskMessage(task: "proj.tasks.add", args: [2, 2])
            message.chain = [Signature(task: "proj.tasks.add", args: [8], options: ["task_id": "c3"]),
                             Signature(task: "proj.tasks.add", args: [4], options: ["task_id": "c2"])]
            message.chord = .object(Signature(task: "proj.tasks.tsum", options: ["task_id": "body", "group_id": "g"]).json)
            let body = try JSON.parse(message.body)
            #expect(body[2]?["chain"]?[0]?["args"] == [8])
            #expect(body[2]?["chain"]?[1]?["options"]?["task_id"] == "c2")
            #expect(body[2]?["chord"]?["task"] == "proj.tasks.tsum")
            #expect(body[2]?.object?.keys == ["callbacks", "errbacks", "chain", "chord"])
        }

        struct ReprCase: Sendable, CustomTestStringConvertible {
            let args: [JSON]
            let kwargs: JSONObject
            let argsrepr: String
            let kwargsrepr: String
            var testDescription: String { argsrepr + " " + kwargsrepr }
        }

        /// Expected strings are Celery 5.7's `saferepr(tuple(args), 1024)` and `saferepr(kwargs, 1024)`
        /// (what `as_task_v2` writes): single quotes always, only `'` escaped, control characters raw.
        static let reprCases: [ReprCase] = [
            ReprCase(args: [2, 2], kwargs: [:], argsrepr: "(2, 2)", kwargsrepr: "{}"),
            ReprCase(args: [2], kwargs: ["y": 3], argsrepr: "(2,)", kwargsrepr: "{'y': 3}"),
            ReprCase(args: [], kwargs: ["y": 3, "z": [nil]], argsrepr: "()", kwargsrepr: "{'y': 3, 'z': [None]}"),
            ReprCase(args: ["it's", "a\"b", nil, true, 1.5, [1, "x"], ["k": false]], kwargs: [:],
                     argsrepr: #"('it\'s', 'a"b', None, True, 1.5, [1, 'x'], {'k': False})"#, kwargsrepr: "{}"),
            ReprCase(args: ["it's \"q\"", "tab\there", "nl\n", "back\\slash", "\u{1}", "\u{7f}", "é"], kwargs: [:],
                     argsrepr: "('it\\'s \"q\"', 'tab\there', 'nl\n', 'back\\slash', '\u{1}', '\u{7f}', 'é')", kwargsrepr: "{}"),
            ReprCase(args: [9007199254740994.0, 1e16, 0.0001, 1e-05, -0.0], kwargs: ["n": .double(.nan)],
                     argsrepr: "(9007199254740994.0, 1e+16, 0.0001, 1e-05, -0.0)", kwargsrepr: "{'n': nan}"),
        ]

        @Test("argsrepr and kwargsrepr read like Celery's saferepr", arguments: reprCases)
        func reprs(_ reprCase: ReprCase) {
            let headers = TaskMessage(task: "t", args: reprCase.args, kwargs: reprCase.kwargs).headers
            #expect(headers["argsrepr"] == .string(reprCase.argsrepr))
            #expect(headers["kwargsrepr"] == .string(reprCase.kwargsrepr))
        }

        @Test("a huge argsrepr is cut to 1024 characters like saferepr")
        func longRepr() {
            let headers = TaskMessage(task: "t", args: [.string(String(repeating: "a", count: 5000))]).headers
            let repr = headers["argsrepr"]?.stringValue ?? ""
            // saferepr(('a' * 5000,), 1024): the string cut to 1023 characters plus "...", the
            // quotes, and the tuple still closed: 1031 characters.
            #expect(repr.count == 1031)
            #expect(repr.hasPrefix("('aaaa"))
            #expect(repr.hasSuffix("...',)"))
        }

        @Test("ids are lowercase UUIDs, and the shadow name is what logs show")
        func idsAndDisplayName() {
            var message = TaskMessage(task: "proj.tasks.add")
            #expect(UUID(uuidString: message.id) != nil)
            #expect(message.id == message.id.lowercased())
            #expect(message.displayName == "proj.tasks.add")
            message.shadow = "nicer.name"
            #expect(message.displayName == "nicer.name")
        }
    }
}
