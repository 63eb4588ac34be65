import AMQP
import Conveyor
import Foundation
import Testing
import TestSupport

/// Arguments a Swift app sends to the Python task `py.describe`; they travel as kwargs.
struct Describe: TaskDefinition {
    static let name = "py.describe"
    struct Arguments: Codable, Sendable {
        var x: Int
        var y: Int
        var label: String
        var when: Date
    }
    struct Output: Codable, Sendable, Equatable {
        var sum: Int
        var label: String
        /// Python's type name for `when` as the task received it, and its `isoformat()`.
        var whenType: String
        var when: String

        enum CodingKeys: String, CodingKey {
            case sum, label, when
            case whenType = "when_type"
        }
    }
}

/// A Python result carrying every kombu JSON type envelope, decoded in Swift.
struct KombuTypes: Decodable {
    var when: Date
    var day: Date
    var amount: Double
    var id: UUID
    var raw: String
    var pair: [Int]
}

/// The Swift client against a real Python Celery 5.7 worker, results read back from Redis.
@Suite("Swift client → Python Celery worker")
struct SwiftClientToPythonWorkerTests {
    @Test("tasks sent from Swift run on a Python worker and their results, failures and headers read back in Swift")
    func tasksRunOnPythonWorker() async throws {
        try TestEnvironment.requirePython()
        let queue = TestEnvironment.uniqueQueue("swift2py")
        try await withClient(queue: queue) { client in
            // Swift declares the queue first; Celery's worker then declares it again and would fail
            // with 406 PRECONDITION_FAILED (never logging "ready") if the two declarations differed.
            try await client.declare(queue: queue)
            try await withPythonWorker(queue: queue) {
                #expect(try await client.send(taskNamed: "py.mul", args: [6, 7]).get(timeout: hangGuard) == 42)
                #expect(try await client.send(taskNamed: "py.mul", kwargs: ["x": 1.5, "y": 4]).get(timeout: hangGuard) == 6.0)
                #expect(try await client.send(taskNamed: "py.concat", args: ["é", "中文", 1, "😀"]).get(timeout: hangGuard) == "é中文1😀")
                #expect(try await client.send(taskNamed: "py.mul", args: ["ab", 3], options: TaskOptions(countdown: 0)).get(timeout: hangGuard) == "ababab")

                // Typed enqueue: arguments as kwargs, a Date as kombu's datetime envelope, output decoded.
                let when = Date(timeIntervalSince1970: 1_795_791_736.5)
                let typed = try await client.enqueue(Describe.self, .init(x: 40, y: 2, label: "typed", when: when))
                #expect(try await typed.value(timeout: hangGuard) == Describe.Output(sum: 42, label: "typed", whenType: "datetime",
                                                                               when: "2026-11-27T15:02:16.500000+00:00"))

                // kombu's datetime, date, decimal, uuid and bytes envelopes decode into Swift types.
                let types = try await client.send(taskNamed: "py.kombu_types").wait(timeout: hangGuard).get(as: KombuTypes.self)
                #expect(abs(types.when.timeIntervalSince1970 - 1_795_791_736.728838) < 1e-6, "\(types.when)")
                #expect(types.day == Date(timeIntervalSince1970: 1_795_737_600))
                #expect(types.amount == 1.5)
                #expect(types.id == UUID(uuidString: "12345678-1234-5678-1234-567812345678"))
                #expect(types.raw == "bytes é")
                #expect(types.pair == [1, 2])

                // A Python exception arrives as taskFailed with its type, module and message.
                let failing = try await client.send(taskNamed: "py.fail", args: ["python broke"])
                let error = try await #require(throws: ConveyorError.self) { try await failing.get(timeout: hangGuard) }
                #expect(error.code == .taskFailed)
                #expect(error.exception?.type == "ValueError")
                #expect(error.exception?.module == "builtins")
                #expect(error.exception?.message == "python broke")
                #expect(error.traceback?.contains("ValueError: python broke") == true)
                let stored = try await client.result(for: failing.id)
                #expect(stored.state == .failure)

                // What Celery's worker made of the headers Swift sent.
                let headerTaskId = UUID().uuidString.lowercased()
                let rootId = UUID().uuidString.lowercased()
                let parentId = UUID().uuidString.lowercased()
                let options = TaskOptions(timeLimit: 30, softTimeLimit: 20, headers: ["x-trace": .string("trace-1"), "x-count": .int64(7)],
                                          taskId: headerTaskId, parentId: parentId, rootId: rootId)
                let echoed = try await client.send(taskNamed: "py.echo_headers", args: [1, "a"], kwargs: ["k": nil], options: options)
                    .get(timeout: hangGuard)
                #expect(echoed["id"] == .string(headerTaskId))
                #expect(echoed["task"] == "py.echo_headers")
                #expect(echoed["args"] == [1, "a"])
                #expect(echoed["kwargs"] == ["k": nil])
                #expect(echoed["retries"] == 0)
                #expect(echoed["root_id"] == .string(rootId))
                #expect(echoed["parent_id"] == .string(parentId))
                #expect(echoed["eta"] == .null)
                #expect(echoed["expires"] == .null)
                #expect(echoed["timelimit"] == [30, 20])
                #expect(echoed["ignore_result"] == false)
                #expect(echoed["x_trace"] == "trace-1")
                #expect(echoed["x_count"] == 7)
                #expect(echoed["correlation_id"] == .string(headerTaskId))
                #expect(echoed["delivery_routing_key"] == .string(queue))
            }
        }
    }

    @Test("a countdown from Swift reaches the Python worker through the delay cascade, no sooner than the countdown, and expiry still applies")
    func countdownThroughDelayCascade() async throws {
        try TestEnvironment.requirePython()
        let queue = TestEnvironment.uniqueQueue("swift2py-countdown")
        try await withClient(queue: queue) { client in
            // The Swift declaration also binds the queue to the end of the delay cascade.
            try await client.declare(queue: queue)
            try await withPythonWorker(queue: queue) {
                let sent = Date()
                let handle = try await client.send(taskNamed: "py.echo_headers", args: ["later"], options: TaskOptions(countdown: 2))
                // Due in 2 s but expiring after 1: Celery's worker revokes it when it comes out of the cascade.
                let expiring = try await client.send(taskNamed: "py.mul", args: [1, 2], options: TaskOptions(countdown: 2, expiresIn: 1))
                let result = try await handle.wait(timeout: hangGuard)
                let waited = Date().timeIntervalSince(sent)
                #expect(result.state == .success)
                #expect(waited >= 1.5, "ran after \(waited) s")
                let done = try #require(result.dateDone)
                #expect(done.timeIntervalSince(sent) >= 1.5, "date_done \(done.timeIntervalSince(sent)) s after sending")
                #expect(result.value["args"] == ["later"])
                // Celery saw the ETA Swift wrote, and the message came out of the cascade's last exchange.
                let eta = try #require(result.value["eta"]?.unwrappingEnvelopes().string.flatMap(ISO8601.parse))
                #expect(abs(eta.timeIntervalSince(sent) - 2) < 1)
                let routingKey = try #require(result.value["delivery_routing_key"]?.string)
                #expect(routingKey == DelayedDelivery.routingKey(delay: 2, queue: queue))

                let revoked = try await expiring.wait(timeout: hangGuard)
                #expect(revoked.state == .revoked)
                #expect(revoked.exception?.type == "TaskRevokedError")
                let error = try #require(throws: ConveyorError.self) { try revoked.get() }
                #expect(error.code == .taskRevoked)
            }
        }
    }
}
