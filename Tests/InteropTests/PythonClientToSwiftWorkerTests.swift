import AMQP
import Conveyor
import Foundation
import Testing
import TestSupport

/// A Python program using Celery 5.7 as it is (`send_task`, `apply_async`, `AsyncResult.get`)
/// against a Swift worker.
@Suite("Python Celery client → Swift worker")
struct PythonClientToSwiftWorkerTests {
    @Test("values sent with send_task and apply_async come back from Swift tasks exactly as Python sent them")
    func valuesRoundTrip() async throws {
        try TestEnvironment.requirePython()
        let queue = TestEnvironment.uniqueQueue("py2swift")
        let result = try await withSwiftWorker(queue: queue) {
            try await runPython("send_values.py", [queue])
        }
        let cases = try #require(result["cases"]?.array)
        let names = cases.compactMap { $0["name"]?.string }
        #expect(names == ["positional args", "kwargs", "args and kwargs", "unicode", "nested", "large integers", "floats",
                          "none and booleans", "empty string", "datetime", "add ints via send_task", "add ints via apply_async",
                          "add kwargs via apply_async", "add floats", "add int and float"])
        for item in cases {
            // Python compared value and repr (so 1.0 stays a float and 2**64+1 an int): equal means identical.
            #expect(item["equal"] == true, "\(item["name"]?.string ?? "?"): sent \(item["sent"]?.string ?? "?"), got \(item["got"]?.string ?? "?")")
        }
        func got(_ name: String) -> String? { cases.first { $0["name"]?.string == name }?["got"]?.string }
        #expect(got("large integers") == "{'args': [18446744073709551617, -1180591620717411303424, 9223372036854775807, -9223372036854775808], 'kwargs': {}}")
        #expect(got("floats") == "{'args': [0.1, 1e-07, 1e+300, -2.5, 1.0], 'kwargs': {}}")
        #expect(got("unicode") == #"{'args': ['é', '中文', '😀 emoji', 'tab\tnew\nline "quoted" \\ back'], 'kwargs': {'clé': 'valeur ü'}}"#)
        #expect(got("add floats") == "0.30000000000000004")

        // A datetime argument travels as kombu's {"__type__": "datetime", "__value__": iso} envelope;
        // conveyor.echo returns the envelope untouched, so Python's decoder turns it back into the
        // same timezone-aware datetime.
        let back = try #require(result["datetime_back"])
        #expect(back["type"] == "datetime")
        #expect(back["repr"] == "datetime.datetime(2026, 11, 27, 15, 2, 16, 728838, tzinfo=datetime.timezone.utc)")
        #expect(back["equal"] == true)

        // While conveyor.sleep runs, Python sees STARTED and Celery's {"pid", "hostname"} info.
        let started = try #require(result["started"])
        #expect(started["state"] == "STARTED", "\(started.text(.compact))")
        #expect(started["info"]?["hostname"] == .string("test@\(queue)"))
        #expect(started["info"]?["pid"] == .int(Int64(ProcessInfo.processInfo.processIdentifier)))
        #expect(started["final"] == 1.0)
    }

    @Test("a failing Swift task raises in AsyncResult.get() with its message, state FAILURE and a traceback")
    func failuresPropagate() async throws {
        try TestEnvironment.requirePython()
        let queue = TestEnvironment.uniqueQueue("py2swift-fail")
        let probe = try BrokerProbe()
        let (result, deadLetters) = try await withSwiftWorker(queue: queue) {
            let result = try await runPython("send_failures.py", [queue])
            return (result, try await probe.take(1, from: WorkQueue.deadLetterName(for: queue)))
        }
        await probe.close()

        let fail = try #require(result["fail"])
        #expect(fail["raised"] == true)
        #expect(fail["type"] == "RuntimeError")
        #expect(fail["module"] == "builtins")
        #expect(fail["message"]?.string?.contains("it broke") == true, "str(e) = \(fail["message"]?.string ?? "nil")")
        #expect(fail["state"] == "FAILURE")
        #expect(fail["result_type"] == "RuntimeError")
        let traceback = try #require(fail["traceback"]?.string)
        #expect(!traceback.isEmpty)
        #expect(traceback.contains("it broke"))
        #expect(fail["date_done_type"] == "datetime")
        #expect(fail["date_done_age"]?.double.map { (-5.0...30.0).contains($0) } == true, "\(fail["date_done_age"]?.text() ?? "nil")")

        // Celery's client sends timelimit = [hard, soft]: the soft limit cancels conveyor.sleep, the
        // hard one stops waiting for it; Python rebuilds billiard's exceptions from either.
        let soft = try #require(result["soft_limit"])
        #expect(soft["type"] == "SoftTimeLimitExceeded", "\(soft.text(.compact))")
        #expect(soft["module"] == "billiard.exceptions")
        #expect(soft["state"] == "FAILURE")
        #expect(soft["elapsed"]?.double.map { $0 < 30 } == true, "soft limit 0.5 s took \(soft["elapsed"]?.text() ?? "?") s")
        let hard = try #require(result["hard_limit"])
        #expect(hard["type"] == "TimeLimitExceeded", "\(hard.text(.compact))")
        #expect(hard["module"] == "billiard.exceptions")
        #expect(hard["state"] == "FAILURE")
        #expect(hard["elapsed"]?.double.map { $0 < 30 } == true, "hard limit 0.5 s took \(hard["elapsed"]?.text() ?? "?") s")

        // An unknown task name: celery.exceptions.NotRegistered, and the message kept as a dead letter.
        let unknown = try #require(result["unknown"])
        #expect(unknown["raised"] == true)
        #expect(unknown["type"] == "NotRegistered")
        #expect(unknown["is_not_registered"] == true)
        #expect(unknown["message"]?.string?.contains("no.such.task") == true)
        #expect(unknown["state"] == "FAILURE")
        let dead = try #require(deadLetters.first)
        let headers = try #require(dead.properties.headers)
        #expect(headers[DeadLetterHeader.reason]?.stringValue == "unknown-task")
        #expect(headers["task"]?.stringValue == "no.such.task")
        #expect(headers["id"]?.stringValue == unknown["id"]?.string)
        #expect(headers[DeadLetterHeader.queue]?.stringValue == queue)
        // The body is kept exactly as Celery sent it.
        #expect(String(decoding: dead.body, as: UTF8.self) == #"[[1], {}, {"callbacks": null, "errbacks": null, "chain": null, "chord": null}]"#)
    }

    @Test("Celery's countdown and expires are honoured by the Swift worker (the ETA goes through the delay cascade)")
    func countdownAndExpiresFromCelery() async throws {
        try TestEnvironment.requirePython()
        let queue = TestEnvironment.uniqueQueue("py2swift-eta")
        let result = try await withSwiftWorker(queue: queue) {
            try await runPython("send_delayed.py", [queue])
        }
        let countdown = try #require(result["countdown"])
        #expect(countdown["value"] == 3)
        let elapsed = try #require(countdown["elapsed"]?.double)
        #expect(elapsed >= 1.5, "countdown=2 ran after \(elapsed) s")

        let expired = try #require(result["expired"])
        #expect(expired["raised"] == true, "\(expired.text(.compact))")
        #expect(expired["type"] == "TaskRevokedError")
        #expect(expired["module"] == "celery.exceptions")
        #expect(expired["state"] == "REVOKED")
    }

    @Test("Celery's native delayed delivery (quorum queue, countdown in the routing key) reaches the Swift worker when due")
    func nativeDelayedDeliveryFromCelery() async throws {
        try TestEnvironment.requirePython()
        let queue = TestEnvironment.uniqueQueue("py2swift-native")
        var configuration = TestEnvironment.configuration(queue: queue)
        configuration.queueType = .quorum
        let worker = try await TestWorker(queue: queue, configuration: configuration)
        let result: JSON
        do {
            result = try await runPython("send_native_delayed.py", [queue])
            try await worker.stop()
        } catch {
            try? await worker.stop()
            throw error
        }
        // Celery itself chose the cascade: published to celery_delayed_27 with the delay in binary.
        #expect(result["exchange"] == "celery_delayed_27")
        #expect(result["routing_key"] == .string(DelayedDelivery.routingKey(delay: 2, queue: queue)))
        #expect(result["value"] == 42)
        let elapsed = try #require(result["elapsed"]?.double)
        #expect(elapsed >= 1.5, "countdown=2 ran after \(elapsed) s")
    }
}
