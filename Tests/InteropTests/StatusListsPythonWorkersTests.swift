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
        let nodes = try await Fleet(client: client).celeryNodes()
        await client.close()
        // `-n py-QUEUE@%h`: Python's host name.
        let python = try #require(nodes.first { $0.name.hasPrefix("py-\(queue)@") }, "\(nodes.map(\.name))")
        let pythonNode = python.name
        #expect(!python.isConveyor)
        #expect(python.concurrency == 1)
        let mine = try #require(nodes.first { $0.name == "test@\(queue)" })
        #expect(mine.isConveyor)
        #expect(mine.pid == Int(ProcessInfo.processInfo.processIdentifier))

        let process = try ManagedProcess(binary, ["status", "--json"])
        #expect(try await process.waitForExit(timeout: hangGuard) == 0, "\(process.log)")
        let report = try JSON.parse(process.log)
        let listed = try #require(report["python_workers"]?.array)
        let entry = try #require(listed.first { $0["hostname"] == .string(pythonNode) }, "\(process.log)")
        #expect(entry["kind"] == "python")
        #expect(entry["concurrency"] == 1)
        #expect(listed.allSatisfy { $0["hostname"] != .string("test@\(queue)") })
        #expect(report["workers"]?.array?.contains { $0["hostname"] == .string("test@\(queue)") } == true)

        let text = try ManagedProcess(binary, ["status"])
        #expect(try await text.waitForExit(timeout: hangGuard) == 0)
        #expect(text.log.contains("\(pythonNode)  online (python)"), "\(text.log)")
    }
}
