import Conveyor
import Foundation
import Testing

extension WireTests {
    /// Expected strings are the Redis values Celery 5.7 wrote (celery.md §3.3).
    @Suite("Result meta is stored exactly as Celery's Redis backend stores it")
    struct ResultMetaJSON {
        /// 2026-11-27T15:02:23.864520+00:00
        static let done = WireTests.date(1_795_791_743.86452)

        @Test("SUCCESS")
        func success() {
            let meta = ResultMeta(taskId: "aaaa", status: .success, result: 4, dateDone: Self.done)
            #expect(meta.json.text() == #"{"status": "SUCCESS", "result": 4, "traceback": null, "children": [], "date_done": "2026-11-27T15:02:23.864520+00:00", "task_id": "aaaa"}"#)
            #expect(meta.serialized == Array(meta.json.text().utf8))
        }

        @Test("FAILURE, with the exception and traceback")
        func failure() {
            let exception = ExceptionInfo(type: "ValueError", module: "builtins", arguments: ["bad value", 42])
            let meta = ResultMeta(taskId: "bbbb", status: .failure, result: exception.json,
                                  traceback: "Traceback (most recent call last):\n  ...\nValueError: bad value", dateDone: Self.done)
            let expected = #"{"status": "FAILURE", "result": {"exc_type": "ValueError", "exc_message": ["bad value", 42], "exc_module": "builtins"}, "#
                + #""traceback": "Traceback (most recent call last):\n  ...\nValueError: bad value", "children": [], "#
                + #""date_done": "2026-11-27T15:02:23.864520+00:00", "task_id": "bbbb"}"#
            #expect(meta.json.text() == expected)
            #expect(meta.exception == exception)
        }

        @Test("STARTED, RETRY and REVOKED")
        func otherStates() {
            let started = ResultMeta(taskId: "cccc", status: .started, result: ["pid": 123, "hostname": "celery@host"], children: nil)
            #expect(started.json.text() == #"{"status": "STARTED", "result": {"pid": 123, "hostname": "celery@host"}, "traceback": null, "children": null, "date_done": null, "task_id": "cccc"}"#)
            let revoked = ResultMeta(taskId: "dddd", status: .revoked,
                                     result: ExceptionInfo(type: "TaskRevokedError", module: "celery.exceptions", message: "revoked").json,
                                     children: nil, dateDone: Self.done)
            #expect(revoked.json.text() == #"{"status": "REVOKED", "result": {"exc_type": "TaskRevokedError", "exc_message": ["revoked"], "exc_module": "celery.exceptions"}, "traceback": null, "children": null, "date_done": "2026-11-27T15:02:23.864520+00:00", "task_id": "dddd"}"#)
            let retry = ResultMeta(taskId: "eeee", status: .retry, result: ExceptionInfo(type: "KeyError", module: "builtins", message: "k").json,
                                   traceback: "tb")
            #expect(retry.json.text() == #"{"status": "RETRY", "result": {"exc_type": "KeyError", "exc_message": ["k"], "exc_module": "builtins"}, "traceback": "tb", "children": [], "date_done": null, "task_id": "eeee"}"#)
        }

        @Test("group_id and parent_id go after date_done and before task_id, only when set")
        func keyOrder() {
            let meta = ResultMeta(taskId: "aaaa", status: .success, result: 4, dateDone: Self.done, groupId: "g", parentId: "p")
            #expect(meta.json.object?.keys == ["status", "result", "traceback", "children", "date_done", "group_id", "parent_id", "task_id"])
            #expect(meta.json.text() == #"{"status": "SUCCESS", "result": 4, "traceback": null, "children": [], "date_done": "2026-11-27T15:02:23.864520+00:00", "group_id": "g", "parent_id": "p", "task_id": "aaaa"}"#)
            let parentOnly = ResultMeta(taskId: "aaaa", status: .success, parentId: "p")
            #expect(parentOnly.json.object?.keys == ["status", "result", "traceback", "children", "date_done", "parent_id", "task_id"])
        }

        @Test("serialized, written without building the JSON first, is the JSON's text byte for byte")
        func serializedMatchesJSON() {
            let exception = ExceptionInfo(type: "ValueError", module: "builtins", arguments: ["bäd \"value\"\n", 42])
            let metas = [
                ResultMeta(taskId: "aaaa", status: .success, result: 4, dateDone: Self.done),
                ResultMeta(taskId: "bbbb", status: .failure, result: exception.json, traceback: "Traceback …\n\tValueError: bäd",
                           dateDone: WireTests.date(1_795_791_736)),
                ResultMeta(taskId: "cccc", status: .started, result: ["pid": 123, "hostname": "celery@host"], children: nil),
                ResultMeta(taskId: "dddd", status: .success, result: ["x", 1.5, nil, true], dateDone: WireTests.date(1_795_791_736.000001),
                           groupId: "g", parentId: "p"),
                ResultMeta(taskId: "ééé-\u{1F600}", status: .success, parentId: "p"),
                ResultMeta(taskId: "ffff", status: .retry, dateDone: Date(timeIntervalSince1970: .nan), groupId: "g"),
            ]
            for meta in metas {
                #expect(String(decoding: meta.serialized, as: UTF8.self) == meta.json.text())
            }
        }

        @Test("the key and channel name is celery-task-meta-<id>")
        func key() {
            #expect(ResultMeta.key(for: "3b2f") == "celery-task-meta-3b2f")
        }

        @Test("Celery's stored bytes read back into the same fields", arguments: [
            #"{"status": "SUCCESS", "result": 4, "traceback": null, "children": [], "date_done": "2026-11-27T15:02:23.864520+00:00", "task_id": "aaaa"}"#,
            #"{"status": "FAILURE", "result": {"exc_type": "ValueError", "exc_message": ["bad value", 42], "exc_module": "builtins"}, "traceback": "Traceback (most recent call last):\n  ...\nValueError: bad value", "children": [], "date_done": "2026-11-27T15:02:23.864520+00:00", "task_id": "bbbb"}"#,
            #"{"status": "STARTED", "result": {"pid": 123, "hostname": "celery@host"}, "traceback": null, "children": null, "date_done": null, "task_id": "cccc"}"#,
            #"{"status": "SUCCESS", "result": 4, "traceback": null, "children": [], "date_done": "2026-11-27T15:02:23.864520+00:00", "group_id": "g", "parent_id": "p", "task_id": "aaaa"}"#,
        ])
        func parseBack(_ text: String) throws {
            let meta = try #require(ResultMeta(bytes: Array(text.utf8)))
            #expect(meta.json.text() == text, "re-serialised differently")
            let json = try JSON.parse(text)
            #expect(meta.taskId == json["task_id"]?.string)
            #expect(meta.status.rawValue == json["status"]?.string)
            #expect(meta.result == json["result"])
            #expect(meta.traceback == json["traceback"]?.string)
            #expect(meta.dateDone.map(ISO8601.format) == json["date_done"]?.string)
        }

        @Test("extended results (result_extended=True) are read; the extra keys are not needed")
        func extended() throws {
            let text = #"{"status": "SUCCESS", "result": [1, 2], "traceback": null, "children": [], "date_done": "2026-11-27T15:02:23.864520+00:00", "name": "proj.tasks.add", "args": [2, 2], "kwargs": {}, "worker": "celery@host", "retries": 0, "queue": "celery", "task_id": "aaaa"}"#
            let meta = try #require(ResultMeta(bytes: Array(text.utf8)))
            #expect(meta.status == .success)
            #expect(meta.result == [1, 2])
            #expect(meta.taskId == "aaaa")
        }

        @Test("bytes that are not a Celery result read as nil", arguments: ["", "garbage", "[]", "{}", #"{"status": 1}"#])
        func notAResult(_ text: String) {
            #expect(ResultMeta(bytes: Array(text.utf8)) == nil)
        }

        @Test("custom states such as PROGRESS carry a result object and are not ready")
        func customState() throws {
            let meta = ResultMeta(taskId: "ffff", status: "PROGRESS", result: ["current": 3, "total": 10], children: nil)
            #expect(meta.json.text() == #"{"status": "PROGRESS", "result": {"current": 3, "total": 10}, "traceback": null, "children": null, "date_done": null, "task_id": "ffff"}"#)
            #expect(!meta.status.isReady)
            #expect(meta.exception == nil)
            #expect(try #require(ResultMeta(bytes: meta.serialized)).status == "PROGRESS")
        }

        @Test("state sets match celery.states: READY, PROPAGATE, EXCEPTION")
        func stateSets() {
            let all: [TaskState] = [.pending, .received, .started, .success, .failure, .retry, .revoked, .rejected, "PROGRESS"]
            #expect(all.filter(\.isReady) == [.success, .failure, .revoked])
            #expect(all.filter(\.propagates) == [.failure, .revoked])
            #expect(all.filter(\.isException) == [.failure, .retry, .revoked])
            #expect(all.map(\.rawValue) == ["PENDING", "RECEIVED", "STARTED", "SUCCESS", "FAILURE", "RETRY", "REVOKED", "REJECTED", "PROGRESS"])
        }
    }

    @Suite("Exceptions in results, as Celery serialises them")
    struct ExceptionJSON {
        @Test("the JSON is exc_type, exc_message (a list), exc_module, in that order")
        func json() {
            #expect(ExceptionInfo(type: "ValueError", module: "builtins", arguments: ["bad value", 42]).json.text()
                == #"{"exc_type": "ValueError", "exc_message": ["bad value", 42], "exc_module": "builtins"}"#)
            #expect(ExceptionInfo(type: "Oops", module: nil, message: "m").json.text()
                == #"{"exc_type": "Oops", "exc_message": ["m"], "exc_module": null}"#)
        }

        @Test("parse reads the list form, a bare message, null and a missing message")
        func parse() throws {
            let list = try #require(ExceptionInfo(json: try JSON.parse(#"{"exc_type": "ValueError", "exc_message": ["a", 1], "exc_module": "builtins"}"#)))
            #expect(list == ExceptionInfo(type: "ValueError", module: "builtins", arguments: ["a", 1]))
            let bare = try #require(ExceptionInfo(json: try JSON.parse(#"{"exc_type": "KeyError", "exc_message": "k", "exc_module": "builtins"}"#)))
            #expect(bare.arguments == ["k"])
            let null = try #require(ExceptionInfo(json: try JSON.parse(#"{"exc_type": "E", "exc_message": null}"#)))
            #expect(null.arguments == [])
            #expect(null.module == nil)
            let missing = try #require(ExceptionInfo(json: try JSON.parse(#"{"exc_type": "E"}"#)))
            #expect(missing.arguments == [])
            #expect(ExceptionInfo(json: try JSON.parse(#"{"exc_message": ["x"]}"#)) == nil)
            #expect(ExceptionInfo(json: 4) == nil)
        }

        @Test("message and description read like Python's str and repr of the exception")
        func message() {
            #expect(ExceptionInfo(type: "ValueError", module: "builtins", message: "bad").message == "bad")
            #expect(ExceptionInfo(type: "ValueError", module: "builtins", message: "bad").description == "ValueError(bad)")
            #expect(ExceptionInfo(type: "E", module: nil, arguments: []).message == "")
            #expect(ExceptionInfo(type: "E", module: nil, arguments: ["a", 1, ["k": true]]).message == #"a, 1, {"k":true}"#)
        }

        @Test("json and parse are inverse")
        func roundTrip() {
            let info = ExceptionInfo(type: "TimeLimitExceeded", module: "billiard.exceptions", arguments: [30.0])
            #expect(ExceptionInfo(json: info.json) == info)
        }
    }
}
