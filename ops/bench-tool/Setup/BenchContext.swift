import Conveyor
import Foundation
import Logging
import Redis
import Synchronization

/// Where the programs under test are.
struct BenchPaths: Sendable {
    /// The release build's bin directory (conveyor-worker).
    var binDirectory: URL
    /// The C ceiling program.
    var ceiling: URL
    /// The venv's python, with Celery 5.7.
    var python: URL
    /// ops/lib: bench_celery.py (the Celery app and client).
    var library: URL
    /// Logs of every process started.
    var logs: URL
    /// Extra arguments for every conveyor-worker (experiments, e.g. `--log-level warning`).
    var workerArguments: [String] = []

    var worker: URL { binDirectory.appendingPathComponent("conveyor-worker") }
}

/// What every section shares: the servers, one Conveyor client, the report, and the names of
/// everything created so it can all be removed at the end.
final class BenchContext: Sendable {
    let paths: BenchPaths
    let sizes: BenchSizes
    let report: Report
    let configuration: ConveyorConfiguration
    let broker: AMQPEndpoint
    let client: ConveyorClient
    /// For cleanup and counts that the client API does not cover.
    let redis: RedisConnection
    /// Distinguishes this run's queues and worker names from any other run's.
    let runId: String
    let host = ProcessInfo.processInfo.hostName
    private let serial = Mutex(0)
    private let created = Mutex<(queues: [String], workers: [String])>(([], []))
    /// Task ids whose results may still be in Redis.
    private let unfinished = Mutex<Set<String>>([])

    init(paths: BenchPaths, sizes: BenchSizes, report: Report) throws {
        self.paths = paths
        self.sizes = sizes
        self.report = report
        configuration = ConveyorConfiguration.fromEnvironment()
        guard let first = try configuration.brokerEndpoints().first else { throw BenchError("no broker URL") }
        broker = first
        var logger = Logger(label: "conveyor.bench")
        logger.logLevel = .error
        client = try ConveyorClient(configuration: configuration, name: "conveyor-bench", logger: logger)
        redis = try RedisConnection(configuration: .init(endpoint: try configuration.resultEndpoint(), name: "conveyor-bench admin"),
                                    logger: logger)
        runId = String(UInt32.random(in: 0...UInt32.max), radix: 16)
    }

    /// A fresh queue for one measurement: `bench.<row>.<run>.<n>`; deleted by `cleanUp`.
    func queue(_ row: String) -> String {
        let name = "bench.\(row).\(runId).\(nextSerial())"
        created.withLock { $0.queues.append(name) }
        return name
    }

    /// A worker node name for this run (registered for cleanup).
    func workerName(_ kind: String) -> String {
        let name = "bench-\(kind)-\(runId)-\(nextSerial())@\(host)"
        created.withLock { $0.workers.append(name) }
        return name
    }

    /// Numbers names within this run.
    private func nextSerial() -> Int {
        serial.withLock { value -> Int in
            value += 1
            return value
        }
    }

    /// A log file for a process started by the bench.
    func log(_ name: String) -> URL {
        paths.logs.appendingPathComponent("\(name).log")
    }

    /// The environment Python Celery needs to see the same servers and import bench_celery.
    var pythonEnvironment: [String: String] {
        ["PYTHONPATH": paths.library.path, "CONVEYOR_BROKER_URL": configuration.brokerURL,
         "CONVEYOR_RESULT_URL": configuration.resultURL, "PYTHONDONTWRITEBYTECODE": "1"]
    }

    /// The connection options of the C ceiling program.
    var ceilingConnectionArguments: [String] {
        let result = (try? configuration.resultEndpoint()).map { ["--redis-host", $0.host, "--redis-port", "\($0.port)"] } ?? []
        return ["--amqp-host", broker.host, "--amqp-port", "\(broker.port)", "--user", broker.user, "--password", broker.password,
                "--vhost", broker.vhost] + result
    }

    /// Ready messages in a queue, waiting up to `timeout` for it to reach `expected` (unconfirmed
    /// publishes can still be on their way).
    func depth(of queue: String, expected: Int, timeout: Double = 5) async throws -> Int {
        let deadline = Date().addingTimeInterval(timeout)
        while true {
            let status = try await client.brokerConnection.inspect(queue: queue)
            if Int(status.messageCount) >= expected || Date() > deadline { return Int(status.messageCount) }
            try await Task.sleep(for: .milliseconds(50))
        }
    }

    /// Deletes queues (with their dead-letter queues and exchanges) through the C program.
    func deleteQueues(_ names: [String]) async {
        guard !names.isEmpty,
              let process = try? BenchProcess(name: "delete", executable: paths.ceiling.path,
                                              arguments: ["delete"] + ceilingConnectionArguments + names, log: log("cleanup"),
                                              duringShutdown: true)
        else { return }
        _ = try? await process.waitForExit(timeout: 30)
    }

    /// Notes task ids whose results `cleanUp` must remove if the run stops early.
    func track(_ ids: [String]) {
        unfinished.withLock { $0.formUnion(ids) }
    }

    /// Removes the result keys (and Conveyor's start counters) of `ids`.
    func deleteResults(_ ids: [String]) async {
        unfinished.withLock { $0.subtract(ids) }
        for start in stride(from: 0, to: ids.count, by: 500) {
            let chunk = ids[start..<min(start + 500, ids.count)]
            let keys = chunk.flatMap { ["celery-task-meta-\($0)", "conveyor:starts:\($0)"] }
            _ = try? await redis.send(["DEL"] + keys, timeout: 10)
        }
    }

    /// Removes everything this run created that is still there: queues, results, and the worker
    /// and queue names Conveyor workers registered in Redis. The client closes first, so no
    /// queue can be declared behind the cleanup's back.
    func cleanUp() async {
        await client.close()
        let (queues, workers) = created.withLock { ($0.queues, $0.workers) }
        await deleteQueues(queues)
        await deleteResults(Array(unfinished.withLock { $0 }))
        if !workers.isEmpty {
            _ = try? await redis.send(["SREM", WorkerHeartbeat.registryKey] + workers, timeout: 5)
            _ = try? await redis.send(["DEL"] + workers.map(WorkerHeartbeat.key), timeout: 5)
        }
        if !queues.isEmpty {
            _ = try? await redis.send(["SREM", WorkerHeartbeat.queuesKey] + queues.flatMap { [$0, $0 + ".dead"] }, timeout: 5)
        }
        await redis.close()
    }
}
