import Conveyor
import Foundation
import Testing
import TestSupport
#if canImport(Glibc)
import Glibc
#endif

/// `conveyor events` and `conveyor top` beside a Python Celery worker with task events on (`-E`):
/// its events are read like a Swift worker's, and top marks it python.
@Suite("conveyor events and top see Python workers")
struct TopSeesPythonWorkersTests {
    @Test("conveyor events --json prints a Python worker's task events (one object or a task.multi list per message); top lists it as python")
    func pythonWorkerEvents() async throws {
        try TestEnvironment.requirePython()
        let binary = try TestEnvironment.requireBinary("conveyor")
        let queue = TestEnvironment.uniqueQueue("top-python")
        let environment = ["CONVEYOR_BROKER_URL": TestEnvironment.brokerURL, "CONVEYOR_RESULT_URL": TestEnvironment.resultURL]
        let events = try ManagedProcess(binary, ["events", "--json"], environment: environment, name: "conveyor-events")
        defer { events.signal(SIGKILL) }
        try await events.waitForLog("-> conveyor events: capturing from celeryev.", timeout: hangGuard)
        let worker = try await PythonWorker(queue: queue, arguments: ["-E"])
        do {
            try await check(queue: queue, binary: binary, events: events, environment: environment)
        } catch {
            try? await worker.stop()
            throw PythonFailed("\(error)\nPython worker log: \(worker.process.log.suffix(3000))")
        }
        try await worker.stop()
    }

    private func check(queue: String, binary: URL, events: ManagedProcess, environment: [String: String]) async throws {
        let client = try testClient(queue: queue)
        let id = TaskID.make()
        #expect(try await client.send(taskNamed: "py.mul", args: [6, 7], options: TaskOptions(taskId: id)).get(timeout: hangGuard) == 42)
        await client.close()
        func ofTask() -> [JSON] {
            events.log.split(separator: "\n").filter { $0.hasPrefix("{") }.compactMap { try? JSON.parse(String($0)) }
                .filter { $0["uuid"] == .string(id) }
        }
        try await eventually(timeout: hangGuard, "the Python worker's task-succeeded printed") {
            ofTask().contains { $0["type"] == "task-succeeded" }
        }
        events.signal(SIGTERM)
        #expect(try await events.waitForExit(timeout: hangGuard) == 0)
        let seen = ofTask()
        #expect(seen.compactMap { $0["type"]?.string } == ["task-received", "task-started", "task-succeeded"], "\(seen)")
        #expect(seen.first?["name"] == "py.mul")
        #expect(seen.first?["hostname"]?.string?.hasPrefix("py-\(queue)@") == true)
        #expect(seen.last?["result"] == "42")

        // top wakes the worker (a pidbox heartbeat: it answers with a worker-heartbeat, sw_ident
        // py-celery) and asks for its stats; the snapshot lists it as python.
        // Its concurrency (1, `-c 1`) comes from the stats broadcast, which a loaded machine may
        // answer after top's second: asked again until it is there.
        var output = ""
        var words: [String] = []
        try await eventually(timeout: hangGuard, "conveyor top listed the Python worker with its concurrency") {
            let top = try ManagedProcess(binary, ["top", "--once", "--queue", queue, "--hostname", "py-\(queue)@*"],
                                         environment: environment, name: "conveyor-top")
            #expect(try await top.waitForExit(timeout: hangGuard) == 0, "\(top.log)")
            output = top.log
            words = output.split(separator: "\n").first { $0.hasPrefix("py-\(queue)@") }.map { $0.split(separator: " ").map(String.init) } ?? []
            return words.count > 4 && words[4] != "-"
        }
        #expect(Array(words.dropFirst().prefix(2)) == ["python", "online"], "\(output)")
        #expect(words[4] == "1", "\(output)")
    }
}
