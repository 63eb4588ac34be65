import AMQP
import Conveyor
import Foundation
import Testing
import TestSupport
#if canImport(Glibc)
import Glibc
#endif

/// The `conveyor-worker` daemon as operators run it.
func startWorkerProcess(queue: String, name: String, concurrency: Int = 4, extra: [String] = []) async throws -> ManagedProcess {
    try TestEnvironment.requireServices()
    let binary = try TestEnvironment.requireBinary("conveyor-worker")
    let process = try ManagedProcess(binary, ["--queues", queue, "--concurrency", "\(concurrency)", "--hostname", name,
                                              "--grace-period", "10"] + extra,
                                     environment: ["CONVEYOR_BROKER_URL": TestEnvironment.brokerURL,
                                                   "CONVEYOR_RESULT_URL": TestEnvironment.resultURL], name: name)
    try await process.waitForLog("worker ready", timeout: hangGuard)
    return process
}

@Suite("The worker daemon under restarts")
struct WorkerProcessTests {
    @Test("a worker killed mid-stream leaves no task behind: another worker finishes them all")
    func killedMidStream() async throws {
        let queue = TestEnvironment.uniqueQueue("restart")
        let first = try await startWorkerProcess(queue: queue, name: "first@\(queue)")
        let client = try testClient(queue: queue)
        let total = 120
        let sent = await client.send(batch: (0..<total).map { _ in ConveyorClient.Request(name: "conveyor.sleep", args: [0.05]) })
        let ids = try sent.map { try $0.get().id }
        // Let it get part-way, then kill it without warning (tasks in flight and prefetched).
        try await eventually(timeout: hangGuard, "some tasks done") {
            var done = 0
            for id in ids.prefix(40) where try await client.result(for: id).state == .success { done += 1 }
            return done >= 10
        }
        first.signal(SIGKILL)
        try await first.waitForExit(timeout: hangGuard)
        let second = try await startWorkerProcess(queue: queue, name: "second@\(queue)")
        for id in ids {
            let result = try await client.wait(for: id, timeout: 60)
            #expect(result.state == .success, "task \(id)")
        }
        let status = try await client.brokerConnection.inspect(queue: queue)
        #expect(status.messageCount == 0)
        second.signal(SIGTERM)
        #expect(try await second.waitForExit(timeout: hangGuard) == 0)
        await client.close()
    }

    @Test("SIGTERM lets running tasks finish and hands prefetched ones back; a new worker runs them")
    func warmShutdown() async throws {
        let queue = TestEnvironment.uniqueQueue("warm")
        let first = try await startWorkerProcess(queue: queue, name: "warm1@\(queue)", concurrency: 2)
        let client = try testClient(queue: queue)
        let handles = await client.send(batch: (0..<10).map { _ in ConveyorClient.Request(name: "conveyor.sleep", args: [0.5]) })
        let ids = try handles.map { try $0.get().id }
        try await first.waitForLog("task started", timeout: hangGuard)
        first.signal(SIGTERM)
        #expect(try await first.waitForExit(timeout: hangGuard) == 0)
        #expect(first.log.contains("warm shutdown"))
        // Nothing that started was cut off.
        for id in ids {
            let state = try await client.result(for: id).state
            #expect(state == .success || state == .pending, "task \(id) is \(state)")
        }
        let second = try await startWorkerProcess(queue: queue, name: "warm2@\(queue)", concurrency: 4)
        for id in ids {
            #expect(try await client.wait(for: id, timeout: 60).state == .success)
        }
        second.signal(SIGTERM)
        _ = try await second.waitForExit(timeout: hangGuard)
        await client.close()
    }

    @Test("SIGHUP restarts the worker in place: warm stop, the same pid, ready again, nothing lost")
    func hangupRestartsInPlace() async throws {
        let queue = TestEnvironment.uniqueQueue("hup")
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("conveyor-\(UUID().uuidString).pid").path
        let worker = try await startWorkerProcess(queue: queue, name: "hup@\(queue)", extra: ["--pidfile", path])
        let client = try testClient(queue: queue)
        let handles = await client.send(batch: (0..<20).map { _ in ConveyorClient.Request(name: "conveyor.sleep", args: [0.2]) })
        try await worker.waitForLog("task started", timeout: hangGuard)
        worker.signal(SIGHUP)
        try await eventually(timeout: hangGuard, "worker ready a second time") {
            worker.log.components(separatedBy: "worker ready").count - 1 >= 2
        }
        #expect(worker.isRunning)
        #expect(worker.log.contains("restarting in place"))
        let text = try String(contentsOfFile: path, encoding: .utf8)
        #expect(Int32(text.trimmingCharacters(in: .whitespacesAndNewlines)) == worker.pid)
        for handle in handles {
            #expect(try await client.wait(for: try handle.get().id, timeout: 60).state == .success)
        }
        worker.signal(SIGTERM)
        #expect(try await worker.waitForExit(timeout: hangGuard) == 0)
        await client.close()
    }

    @Test("a pidfile held by a live worker stops a second one from starting")
    func pidfile() async throws {
        let queue = TestEnvironment.uniqueQueue("pid")
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("conveyor-\(UUID().uuidString).pid").path
        let first = try await startWorkerProcess(queue: queue, name: "pid1@\(queue)", extra: ["--pidfile", path])
        let text = try String(contentsOfFile: path, encoding: .utf8)
        #expect(Int32(text.trimmingCharacters(in: .whitespacesAndNewlines)) == first.pid)
        let binary = try TestEnvironment.requireBinary("conveyor-worker")
        let second = try ManagedProcess(binary, ["--queues", queue, "--pidfile", path], name: "pid2")
        #expect(try await second.waitForExit(timeout: hangGuard) == 2)
        #expect(second.log.contains("belongs to running process"))
        first.signal(SIGTERM)
        _ = try await first.waitForExit(timeout: hangGuard)
        #expect(!FileManager.default.fileExists(atPath: path))
    }
}
