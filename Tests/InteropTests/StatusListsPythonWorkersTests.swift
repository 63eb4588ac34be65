import Conveyor
import Foundation
import Testing
import TestSupport

/// `conveyor status` beside a Python Celery worker: Python workers have no heartbeat in Redis,
/// so they are found through Celery's remote control (a pidbox `stats` broadcast).
@Suite("conveyor status lists Python workers")
struct StatusListsPythonWorkersTests {
    @Test("a Python worker answers the stats broadcast and conveyor status lists it, marked python; the Swift worker stays with the heartbeats")
    func statusListsPythonWorker() async throws {
        try TestEnvironment.requirePython()
        let binary = try TestEnvironment.requireBinary("conveyor")
        let queue = TestEnvironment.uniqueQueue("status-mixed")
        let swift = try await TestWorker(queue: queue)
        do {
            try await withPythonWorker(queue: queue) { try await check(queue: queue, binary: binary) }
        } catch {
            try? await swift.stop()
            throw error
        }
        try await swift.stop()
    }

    private func check(queue: String, binary: URL) async throws {
        let client = try testClient(queue: queue)
        // Each broadcast collects for a second, as `celery inspect` does; a node busy on a loaded
        // machine answers a later one. `-n py-QUEUE@%h`: Python's host name.
        var nodes: [CeleryNode] = []
        try await eventually(timeout: hangGuard, "both workers answered one stats broadcast") {
            nodes = try await Fleet(client: client).celeryNodes()
            return nodes.contains { $0.name.hasPrefix("py-\(queue)@") } && nodes.contains { $0.name == "test@\(queue)" }
        }
        await client.close()
        let python = try #require(nodes.first { $0.name.hasPrefix("py-\(queue)@") }, "\(nodes.map(\.name))")
        let pythonNode = python.name
        #expect(!python.isConveyor)
        #expect(python.concurrency == 1)
        let mine = try #require(nodes.first { $0.name == "test@\(queue)" })
        #expect(mine.isConveyor)
        #expect(mine.pid == Int(ProcessInfo.processInfo.processIdentifier))

        func status(_ arguments: [String]) async throws -> String {
            let process = try ManagedProcess(binary, ["status"] + arguments)
            #expect(try await process.waitForExit(timeout: hangGuard) == 0, "\(process.log)")
            return process.log
        }
        var report: JSON = .null
        try await eventually(timeout: hangGuard, "conveyor status listed the Python worker") {
            report = try JSON.parse(try await status(["--json"]))
            return report["python_workers"]?.array?.contains { $0["hostname"] == .string(pythonNode) } == true
        }
        let listed = try #require(report["python_workers"]?.array)
        let entry = try #require(listed.first { $0["hostname"] == .string(pythonNode) })
        #expect(entry["kind"] == "python")
        #expect(entry["concurrency"] == 1)
        #expect(listed.allSatisfy { $0["hostname"] != .string("test@\(queue)") })
        #expect(report["workers"]?.array?.contains { $0["hostname"] == .string("test@\(queue)") } == true)

        var text = ""
        try await eventually(timeout: hangGuard, "conveyor status printed the Python worker") {
            text = try await status([])
            return text.contains(pythonNode)
        }
        #expect(text.contains("\(pythonNode)  online (python)  pid="), "\(text)")
    }
}
