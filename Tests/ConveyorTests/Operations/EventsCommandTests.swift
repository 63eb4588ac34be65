import Conveyor
import Foundation
import Testing
import TestSupport
#if canImport(Glibc)
import Glibc
#endif

/// `conveyor events`: Celery's event stream from a real `conveyor-worker -E`, as JSON lines and
/// as `celery events --dump` prints it.
@Suite("conveyor events")
struct EventsCommandTests {
    /// `conveyor events ARGUMENTS`, once it has bound its queue.
    private func startEvents(_ arguments: [String]) async throws -> ManagedProcess {
        let events = try ManagedProcess(try TestEnvironment.requireBinary("conveyor"), ["events"] + arguments,
                                        environment: ["CONVEYOR_BROKER_URL": TestEnvironment.brokerURL], name: "conveyor-events")
        do {
            try await events.waitForLog("-> conveyor events: capturing from celeryev.", timeout: hangGuard)
        } catch {
            events.signal(SIGKILL)
            throw error
        }
        return events
    }

    @Test("--json prints the worker's worker-online and each task's events, one object per line; SIGTERM exits 0")
    func jsonLines() async throws {
        try TestEnvironment.requireServices()
        let queue = TestEnvironment.uniqueQueue("events-json")
        let node = "events@\(queue)"
        let events = try await startEvents(["--json"])
        defer { events.signal(SIGKILL) }
        // Started after the receiver is bound, so its worker-online is in the stream.
        let worker = try await startEventsWorker(queue: queue, node: node)
        defer { worker.signal(SIGKILL) }
        let client = try testClient(queue: queue)
        let id = TaskID.make()
        #expect(try await client.send(taskNamed: "conveyor.add", args: [1, 2], options: TaskOptions(taskId: id)).get(timeout: hangGuard) == 3)
        await client.close()

        func mine() -> [JSON] {
            events.log.split(separator: "\n").filter { $0.hasPrefix("{") }.compactMap { try? JSON.parse(String($0)) }
                .filter { $0["hostname"] == .string(node) }
        }
        try await eventually(timeout: hangGuard, "the worker's task-succeeded printed") {
            mine().contains { $0["type"] == "task-succeeded" }
        }
        events.signal(SIGTERM)
        #expect(try await events.waitForExit(timeout: hangGuard) == 0, "\(events.log.suffix(2000))")
        worker.signal(SIGTERM)
        #expect(try await worker.waitForExit(timeout: hangGuard) == 0)

        let seen = mine()
        let online = try #require(seen.first { $0["type"] == "worker-online" }, "\(seen)")
        #expect(online["sw_ident"] == "conveyor")
        #expect(online["pid"] == .int(Int64(worker.pid)))
        #expect(online["local_received"]?.double != nil)
        let ofTask = seen.filter { $0["uuid"] == .string(id) }
        #expect(ofTask.compactMap { $0["type"]?.string } == ["task-received", "task-started", "task-succeeded"])
        #expect(ofTask.first?["name"] == "conveyor.add")
        #expect(ofTask.last?["result"] == "3")
        #expect(ofTask.last?["runtime"]?.double.map { $0 >= 0 } == true)
    }

    @Test("without --json the lines are celery events --dump's: hostname [timestamp] type: task fields")
    func dumpLines() async throws {
        try TestEnvironment.requireServices()
        let queue = TestEnvironment.uniqueQueue("events-dump")
        let node = "dump@\(queue)"
        let events = try await startEvents([])
        defer { events.signal(SIGKILL) }
        let worker = try await startEventsWorker(queue: queue, node: node)
        defer { worker.signal(SIGKILL) }
        let client = try testClient(queue: queue)
        let id = TaskID.make()
        #expect(try await client.send(taskNamed: "conveyor.add", args: [4, 5], options: TaskOptions(taskId: id)).get(timeout: hangGuard) == 9)
        await client.close()

        func lines() -> [String] { events.log.split(separator: "\n").map(String.init).filter { $0.hasPrefix("\(node) [") } }
        try await eventually(timeout: hangGuard, "the worker's task succeeded line printed") {
            lines().contains { $0.contains(" task succeeded: ") }
        }
        events.signal(SIGINT)
        #expect(try await events.waitForExit(timeout: hangGuard) == 0, "\(events.log.suffix(2000))")

        let all = lines()
        let started = try #require(all.first { $0.contains("] started: ") }, "\(all)")
        // `[2026-12-05 13:45:02.123456+00:00] started: active=0, clock=…, freq=2.0, …`: sorted fields.
        let stamp = #/^\S+ \[\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(\.\d{6})?\+00:00\] started: active=\d+, clock=\d+, freq=2\.0, loadavg=\[/#
        #expect(started.contains(stamp), "\(started)")
        #expect(started.contains("sw_ident=conveyor, sw_sys=Linux, sw_ver="), "\(started)")
        let received = try #require(all.first { $0.contains("] task received: ") }, "\(all)")
        #expect(received.contains("task received: conveyor.add(\(id)) args=(4, 5) kwargs={} clock="), "\(received)")
        #expect(received.contains("parent_id=None"), "\(received)")
        let succeeded = try #require(all.first { $0.contains("] task succeeded: ") })
        // Later events of the task name it as its task-received did.
        #expect(succeeded.contains("task succeeded: conveyor.add(\(id)) args=(4, 5) kwargs={} clock="), "\(succeeded)")
        #expect(succeeded.contains("result=9, runtime="), "\(succeeded)")
        worker.signal(SIGTERM)
        #expect(try await worker.waitForExit(timeout: hangGuard) == 0)
    }

    @Test("a broker that cannot be reached: one line on standard error and exit 1 within the connect timeout, never a hang")
    func brokerDown() async throws {
        let events = try ManagedProcess(try TestEnvironment.requireBinary("conveyor"),
                                        ["events", "--broker", "amqp://guest:guest@127.0.0.1:1//", "--connect-timeout", "1"], name: "conveyor-events")
        #expect(try await events.waitForExit(timeout: hangGuard) == 1)
        #expect(events.log.hasPrefix("conveyor: broker unavailable: "), "\(events.log)")
    }
}
