import Conveyor
import Foundation
import Testing
import TestSupport
#if canImport(Glibc)
import Glibc
#endif

/// `conveyor-worker --health-file` and `conveyor health`: the worker keeps the file true to what
/// it sees (ok, degraded without its broker, gone after it stops), and the probe's exit code
/// says so in one line.
@Suite("Worker health file and conveyor health")
struct HealthFileTests {
    private func probe(_ arguments: [String]) async throws -> (status: Int32, output: String) {
        let process = try ManagedProcess(try TestEnvironment.requireBinary("conveyor"), ["health"] + arguments)
        let status = try await process.waitForExit(timeout: hangGuard)
        return (status, process.log)
    }

    private func temporaryPath(_ label: String) -> String {
        FileManager.default.temporaryDirectory.appendingPathComponent("conveyor-health-\(label)-\(UUID().uuidString.prefix(8)).json").path
    }

    /// The file's content, once it parses and satisfies `condition`.
    private func waitForHealth(at path: String, _ what: String, _ condition: @escaping (WorkerHealth) -> Bool) async throws -> WorkerHealth {
        var found: WorkerHealth?
        try await eventually(timeout: hangGuard, what) {
            let health = FileManager.default.contents(atPath: path).flatMap { try? JSON.parse($0) }.flatMap(WorkerHealth.init(json:))
            if let health, condition(health) { found = health }
            return found != nil
        }
        return try #require(found)
    }

    private func write(_ health: WorkerHealth, to path: String) throws {
        try Data(health.json.serialized(.compact)).write(to: URL(fileURLWithPath: path))
    }

    @Test("a ready worker writes ok; after a warm shutdown the file is gone and the probe exits 2")
    func okThenGone() async throws {
        let queue = TestEnvironment.uniqueQueue("health")
        let path = temporaryPath("ok")
        let worker = try await startWorkerProcess(queue: queue, name: "health@\(queue)", extra: ["--health-file", path])
        let health = try await waitForHealth(at: path, "the worker's health file saying ok") { $0.status == .ok }
        #expect(health.broker && health.consuming && health.redis)
        #expect(health.pid == Int(worker.pid) && health.hostname == "health@\(queue)")
        let (okStatus, okOutput) = try await probe([path])
        #expect(okStatus == 0, "\(okOutput)")
        #expect(okOutput.hasPrefix("ok: broker up, consuming, redis up; health@\(queue) pid \(worker.pid)"), "\(okOutput)")
        #expect(okOutput.split(separator: "\n").count == 1, "\(okOutput)")

        worker.signal(SIGTERM)
        #expect(try await worker.waitForExit(timeout: hangGuard) == 0, "\(worker.log.suffix(2000))")
        #expect(!FileManager.default.fileExists(atPath: path))
        #expect(!FileManager.default.fileExists(atPath: path + ".tmp"))
        let (goneStatus, goneOutput) = try await probe([path])
        #expect(goneStatus == 2, "\(goneOutput)")
        #expect(goneOutput.hasPrefix("missing: "), "\(goneOutput)")
    }

    @Test("with its broker unreachable the worker's file turns degraded and the probe exits 1; stopping removes it")
    func degradedWithoutBroker() async throws {
        try TestEnvironment.requireServices()
        let proxy = try await FaultProxy.start(target: 5672)
        let queue = TestEnvironment.uniqueQueue("health-broker")
        let path = temporaryPath("degraded")
        let worker = try await startWorkerProcess(queue: queue, name: "degraded@\(queue)", extra: [
            "--health-file", path, "--broker", "amqp://guest:guest@127.0.0.1:\(proxy.port)/%2F", "--grace-period", "0",
        ])
        _ = try await waitForHealth(at: path, "the worker's health file saying ok") { $0.status == .ok }

        try await proxy.stop()
        let health = try await waitForHealth(at: path, "the worker's health file saying degraded") { $0.status == .degraded }
        #expect(!health.broker && !health.consuming && health.redis)
        let (status, output) = try await probe([path])
        #expect(status == 1, "\(output)")
        #expect(output.hasPrefix("degraded: broker down, not consuming, redis up; "), "\(output)")

        worker.signal(SIGTERM)
        try await worker.waitForExit(timeout: hangGuard)
        #expect(!FileManager.default.fileExists(atPath: path))
        #expect(try await probe([path]).status == 2)
    }

    @Test("--max-age: a file older than it is stale (exit 2) whatever it says; within it, ok exits 0, degraded 1, stopping 2")
    func maxAge() async throws {
        let path = temporaryPath("age")
        defer { unlink(path) }
        let now = Date()
        func health(_ status: WorkerHealth.Status, updated: Date) -> WorkerHealth {
            WorkerHealth(status: status, broker: status != .degraded, consuming: status == .ok, redis: true, updatedAt: updated,
                         pid: 4242, hostname: "probe@host")
        }
        // Ages an hour from the limits either way, so a probe slow to start (a loaded machine)
        // reads the same verdict; the age printed is the file's age when the probe read it.
        try write(health(.ok, updated: now.addingTimeInterval(-3600)), to: path)
        let stale = try await probe([path, "--max-age", "30"])
        #expect(stale.status == 2, "\(stale.output)")
        #expect(stale.output.hasPrefix("stale: probe@host pid 4242, updated 36"), "\(stale.output)")
        #expect(stale.output.contains(" s ago, over --max-age 30 s"), "\(stale.output)")
        let lenient = try await probe([path, "--max-age", "86400"])
        #expect(lenient.status == 0, "\(lenient.output)")
        #expect(try await probe([path]).status == 2, "the default --max-age is 30 s")

        try write(health(.degraded, updated: now.addingTimeInterval(-3600)), to: path)
        #expect(try await probe([path, "--max-age", "30"]).status == 2)
        let degraded = try await probe([path, "--max-age", "86400"])
        #expect(degraded.status == 1, "\(degraded.output)")
        #expect(degraded.output.hasPrefix("degraded: broker down, not consuming, redis up; "), "\(degraded.output)")

        try write(health(.stopping, updated: now), to: path)
        let stopping = try await probe([path, "--max-age", "86400"])
        #expect(stopping.status == 2, "\(stopping.output)")
        #expect(stopping.output.hasPrefix("stopping: "), "\(stopping.output)")

        let json = try await probe([path, "--json", "--max-age", "86400"])
        #expect(json.status == 2)
        let verdict = try JSON.parse(json.output)
        #expect(verdict["verdict"] == "stopping" && verdict["health"]?["pid"] == 4242, "\(json.output)")

        try Data("{\"status\": \"ok\"}".utf8).write(to: URL(fileURLWithPath: path))
        let unreadable = try await probe([path])
        #expect(unreadable.status == 2 && unreadable.output.hasPrefix("unreadable: "), "\(unreadable.output)")
    }

    @Test("bad --max-age values and an empty --health-file exit 2 naming the flag", arguments: [
        ["health", "/tmp/x", "--max-age", "0"], ["health", "/tmp/x", "--max-age", "nan"], ["health", "/tmp/x", "--max-age", "86401"],
        ["health", "/tmp/x", "--max-age=-5"], ["health", ""],
    ])
    func badUsage(arguments: [String]) async throws {
        let process = try ManagedProcess(try TestEnvironment.requireBinary("conveyor"), arguments)
        let status = try await process.waitForExit(timeout: hangGuard)
        #expect(status == 2, "\(arguments): \(process.log)")
        #expect(process.log.contains(arguments.count > 2 ? "--max-age" : "PATH"), "\(arguments): \(process.log)")
    }

    @Test("conveyor-worker --health-file '' exits 2 before connecting to anything")
    func emptyHealthFile() async throws {
        let process = try ManagedProcess(try TestEnvironment.requireBinary("conveyor-worker"), ["--health-file", ""],
                                         environment: ["CONVEYOR_BROKER_URL": "amqp://guest:guest@127.0.0.1:1/%2F"])
        #expect(try await process.waitForExit(timeout: hangGuard) == 2)
        #expect(process.log.contains("--health-file needs a path"), "\(process.log)")
    }
}
