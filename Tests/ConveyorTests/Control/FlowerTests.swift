@testable import Conveyor
import Foundation
import Testing
import TestSupport
#if canImport(Glibc)
import Glibc
#endif

/// Flower 2.2.0, unchanged (`ops/venv` installs it beside Celery 5.7), watching a Swift worker.
@Suite("Flower 2.2.0 and a Swift worker")
struct FlowerTests {
    @Test("Flower lists the Swift worker with its stats, shows its task with state and runtime, and its pool and consumer buttons work")
    func flowerSeesSwiftWorker() async throws {
        try TestEnvironment.requirePython()
        let queue = TestEnvironment.uniqueQueue("flower")
        let extra = TestEnvironment.uniqueQueue("flower-added")
        let node = "test@\(queue)"
        let worker = try await TestWorker(queue: queue, concurrency: 2)
        try await worker.waitForRemoteControl()
        let port = try #require(try SentinelSet.freePorts(1).first)
        let directory = TestEnvironment.repoRoot.appendingPathComponent("Tests/InteropTests/python")
        let flower = try ManagedProcess(URL(fileURLWithPath: TestEnvironment.python),
                                        [directory.appendingPathComponent("celery_cli.py").path, "flower", "--address=127.0.0.1", "--port=\(port)",
                                         // Flower's own enable_events goes to every worker on the broker, the
                                         // workers of tests running beside this one too; flower_check.py turns
                                         // events on for this node only.
                                         "--enable_events=False"],
                                        environment: ["PYTHONPATH": directory.path, "PYTHONUNBUFFERED": "1", "FLOWER_UNAUTHENTICATED_API": "true"],
                                        name: "flower")
        let shown: JSON
        do {
            let output = try await PythonScript.run("flower_check.py", ["\(port)", node, queue, extra],
                                                    environment: ["PYTHONPATH": directory.path], timeout: hangGuard * 2)
            let line = try #require(output.split(separator: "\n").last { $0.hasPrefix("RESULT ") })
            shown = try JSON.parse(String(line.dropFirst("RESULT ".count)))
        } catch {
            flower.signal(SIGKILL)
            try? await worker.stop()
            throw PythonFailed("\(error)\n--- Flower log ---\n\(flower.log.suffix(4000))")
        }
        flower.signal(SIGTERM)
        _ = try? await flower.waitForExit(timeout: hangGuard)

        let before = try #require(shown["before"])
        #expect(before["stats"]?["pid"] == .int(Int64(ProcessInfo.processInfo.processIdentifier)))
        #expect(before["stats"]?["pool"]?["max-concurrency"] == 2)
        #expect(before["stats"]?["broker"]?["transport"] == "amqp")
        #expect(before["registered"]?.array?.contains("conveyor.add") == true)
        #expect(before["active_queues"]?.array?.map { $0["name"] } == [.string(queue)])

        #expect(shown["value"] == 5)
        let task = try #require(shown["task"])
        #expect(task["state"] == "SUCCESS")
        #expect(task["worker"] == .string(node))
        #expect(task["name"] == "conveyor.add")
        #expect(task["result"] == "5")
        #expect(task["runtime"]?.double.map { $0 >= 0 } == true)

        #expect(shown["grow"]?["message"] == .string("Growing '\(node)' worker's pool by 2"))
        #expect(shown["add"]?["message"] == .string("add consumer \(extra)"))
        #expect(worker.worker.slots.capacity == 4)
        #expect(shown["after"]?["stats"]?["pool"]?["max-concurrency"] == 4)
        #expect(shown["after"]?["active_queues"]?.array?.map { $0["name"] } == [.string(queue), .string(extra)])
        #expect(shown["page"] == 200)
        try await worker.stop()
    }
}
