@testable import Conveyor
import Foundation
import Testing
import TestSupport
#if canImport(Glibc)
import Glibc
#endif

/// Celery's own event receiver (`app.events.Receiver`, what `celery events` and Flower use)
/// reading a Swift worker's events.
@Suite("Celery events from a Swift worker")
struct CeleryEventsTests {
    /// The fields Celery's `EventDispatcher.publish` adds to every event, and what the receiver adds.
    static let standard: Set<String> = ["hostname", "utcoffset", "pid", "clock", "timestamp", "type", "local_received"]
    /// What Python's worker sends beside the standard fields, by event type (`celery/worker/
    /// heartbeat.py`, `strategy.py`, `request.py`).
    static let fields: [String: Set<String>] = [
        "worker-online": ["freq", "active", "processed", "loadavg", "sw_ident", "sw_ver", "sw_sys"],
        "worker-heartbeat": ["freq", "active", "processed", "loadavg", "sw_ident", "sw_ver", "sw_sys"],
        "worker-offline": ["freq", "active", "processed", "loadavg", "sw_ident", "sw_ver", "sw_sys"],
        "task-received": ["uuid", "name", "args", "kwargs", "root_id", "parent_id", "retries", "eta", "expires"],
        "task-started": ["uuid"],
        "task-succeeded": ["uuid", "result", "runtime"],
        "task-failed": ["uuid", "exception", "traceback"],
    ]

    @Test("enable_events turns task events on; the receiver gets worker and task events with Python's fields, in order")
    func receiverSeesEvents() async throws {
        try TestEnvironment.requirePython()
        let queue = TestEnvironment.uniqueQueue("celery-events")
        let node = "test@\(queue)"
        let worker = try await TestWorker(queue: queue, concurrency: 2)
        try await worker.waitForRemoteControl()
        let client = try testClient(queue: queue)
        let succeeding = TaskID.make(), failing = TaskID.make()
        let directory = TestEnvironment.repoRoot.appendingPathComponent("Tests/InteropTests/python")
        let receiver = try ManagedProcess(URL(fileURLWithPath: TestEnvironment.python),
                                          [directory.appendingPathComponent("receive_events.py").path, node, succeeding, failing],
                                          environment: ["PYTHONPATH": directory.path, "PYTHONUNBUFFERED": "1"], name: "receive-events")
        do {
            try await receiver.waitForLog("READY", timeout: hangGuard)
        } catch {
            receiver.signal(SIGKILL)
            throw error
        }
        // Off by default: a task before enable_events sends only worker events.
        #expect(!worker.worker.remote.eventsEnabled)
        let enabled = try await control("enable_events", node: node)
        #expect(enabled == ["ok": "task events enabled"])
        let added = try await client.send(taskNamed: "conveyor.add", args: [2, 3], options: TaskOptions(taskId: succeeding))
        let failed = try await client.send(taskNamed: "conveyor.fail", args: ["bad"], options: TaskOptions(taskId: failing))
        #expect(try await added.get(timeout: hangGuard) == 5)
        await #expect(throws: (any Error).self) { try await failed.get(timeout: hangGuard) }
        try await worker.stop()
        await client.close()
        #expect(try await receiver.waitForExit(timeout: hangGuard) == 0)

        let line = try #require(receiver.log.split(separator: "\n").last { $0.hasPrefix("RESULT ") })
        let events = try #require(try JSON.parse(String(line.dropFirst("RESULT ".count))).array)
        let types = events.compactMap { $0["type"]?.string }
        for event in events {
            let type = try #require(event["type"]?.string)
            let expected = try #require(Self.fields[type], "unexpected event \(type)")
            #expect(Set(event.object?.keys ?? []) == Self.standard.union(expected), "\(type): \(event.text(.compact))")
            #expect(event["hostname"] == .string(node))
            #expect(event["pid"] == .int(Int64(ProcessInfo.processInfo.processIdentifier)))
            #expect(event["utcoffset"]?.double == Double(-TimeZone.current.secondsFromGMT()) / 3600)
        }
        // Lamport clocks only go forward.
        let clocks = events.compactMap { $0["clock"]?.int }
        #expect(clocks == clocks.sorted() && Set(clocks).count == clocks.count)
        #expect(types.first == "worker-heartbeat" || types.first == "worker-online")
        #expect(types.last == "worker-offline")
        #expect(events.first { $0["type"] == "worker-heartbeat" }?["sw_ident"] == "conveyor")

        func ofTask(_ id: String) -> [JSON] { events.filter { $0["uuid"] == .string(id) } }
        let good = ofTask(succeeding)
        #expect(good.compactMap { $0["type"]?.string } == ["task-received", "task-started", "task-succeeded"])
        #expect(good.first?["name"] == "conveyor.add")
        #expect(good.first?["args"] == "(2, 3)")
        #expect(good.first?["kwargs"] == "{}")
        #expect(good.first?["root_id"] == .string(succeeding))
        #expect(good.first?["retries"] == 0)
        #expect(good.first?["eta"] == .null)
        #expect(good.last?["result"] == "5")
        #expect(good.last?["runtime"]?.double.map { $0 >= 0 } == true)
        let bad = ofTask(failing)
        #expect(bad.compactMap { $0["type"]?.string } == ["task-received", "task-started", "task-failed"])
        #expect(bad.last?["exception"] == "RuntimeError('bad')")
        #expect(bad.last?["traceback"]?.string?.contains("RuntimeError: bad") == true)
        // The offline event counts both tasks as processed.
        #expect(events.last?["processed"] == 2)
    }

    @Test("conveyor-worker -E sends task events from the start, and worker-offline on SIGTERM and on SIGHUP", arguments: [SIGTERM, SIGHUP])
    func binaryWorkerEvents(signal: Int32) async throws {
        try TestEnvironment.requirePython()
        let queue = TestEnvironment.uniqueQueue("events-signal-\(signal)")
        let node = "events@\(queue)"
        let environment = ["CONVEYOR_BROKER_URL": TestEnvironment.brokerURL, "CONVEYOR_RESULT_URL": TestEnvironment.resultURL]
        let worker = try ManagedProcess(try TestEnvironment.requireBinary("conveyor-worker"),
                                        ["--queues", queue, "--hostname", node, "-E", "--concurrency", "2"],
                                        environment: environment, name: "events-worker")
        defer { if worker.isRunning { worker.signal(SIGKILL) } }
        try await worker.waitForLog("remote control listening", timeout: hangGuard)
        let id = TaskID.make()
        let directory = TestEnvironment.repoRoot.appendingPathComponent("Tests/InteropTests/python")
        let receiver = try ManagedProcess(URL(fileURLWithPath: TestEnvironment.python),
                                          [directory.appendingPathComponent("receive_events.py").path, node, id],
                                          environment: ["PYTHONPATH": directory.path, "PYTHONUNBUFFERED": "1"], name: "receive-events")
        defer { if receiver.isRunning { receiver.signal(SIGKILL) } }
        try await receiver.waitForLog("READY", timeout: hangGuard)
        let client = try testClient(queue: queue)
        #expect(try await client.send(taskNamed: "conveyor.add", args: [1, 2], options: TaskOptions(taskId: id)).get(timeout: hangGuard) == 3)
        await client.close()
        worker.signal(signal)
        #expect(try await receiver.waitForExit(timeout: hangGuard) == 0, "\(receiver.log)")
        if signal == SIGHUP {
            // Restarted in place: it comes back online, then stops for good on SIGTERM.
            try await eventually(timeout: hangGuard, "the worker restarted") {
                worker.log.components(separatedBy: "remote control listening").count == 3
            }
            worker.signal(SIGTERM)
        }
        #expect(try await worker.waitForExit(timeout: hangGuard) == 0)

        let line = try #require(receiver.log.split(separator: "\n").last { $0.hasPrefix("RESULT ") })
        let types = try #require(try JSON.parse(String(line.dropFirst("RESULT ".count))).array).compactMap { $0["type"]?.string }
        #expect(types.filter { $0.hasPrefix("task-") } == ["task-received", "task-started", "task-succeeded"])
        #expect(types.last == "worker-offline")
    }
}
