import AMQP
import Conveyor
import Foundation
import Logging

/// What every scenario needs: the private servers, the worker binary, and how to publish and
/// measure.
struct ScenarioContext {
    let infrastructure: Infrastructure
    let workerBinary: URL
    let quick: Bool
    let logger: Logger

    static let brokerPort = 5681
    static let redisPort = 6391
    static let proxyPort = 5691

    func brokerURL(port: Int = brokerPort, heartbeat: Int = 5) -> String {
        "amqp://guest:guest@127.0.0.1:\(port)/%2F?heartbeat=\(heartbeat)"
    }

    /// Where workers and clients keep results (the Sentinel scenario points it at its sentinels).
    var redisURL = "redis://127.0.0.1:\(ScenarioContext.redisPort)/0"

    func configuration(broker: String, queue: String, queueType: QueueType = .classic) -> ConveyorConfiguration {
        var configuration = ConveyorConfiguration(brokerURL: broker, resultURL: redisURL, defaultQueue: queue, queueType: queueType)
        configuration.publishTimeout = 30
        configuration.connectTimeout = 30
        configuration.resultTTL = 3600
        return configuration
    }

    func worker(_ name: String, queue: String, broker: String, concurrency: Int = 8, queueType: QueueType = .classic,
                extra: [String] = [], environment: [String: String] = [:], restartDelay: Duration = .milliseconds(300)) -> SupervisedWorker {
        SupervisedWorker(
            name: name, binary: workerBinary,
            arguments: ["--queues", queue, "--concurrency", "\(concurrency)", "--grace-period", "10", "--log-level", "info"] + extra,
            environment: ["CONVEYOR_BROKER_URL": broker, "CONVEYOR_RESULT_URL": redisURL, "CONVEYOR_QUEUE_TYPE": queueType.rawValue]
                .merging(environment) { $1 },
            logDirectory: infrastructure.logs, restartDelay: restartDelay)
    }

    /// Publishes `count` tasks in batches, recording each as ok or unknown.
    func publish(_ client: ConveyorClient, ledger: Ledger, count: Int, task: String, args: [JSON], options: TaskOptions = .init(),
                 batch: Int = 50, pause: Double = 0) async {
        var sent = 0
        while sent < count {
            let size = min(batch, count - sent)
            var requests: [ConveyorClient.Request] = []
            var ids: [String] = []
            for _ in 0..<size {
                var opts = options
                let id = UUID().uuidString.lowercased()
                opts.taskId = id
                ids.append(id)
                requests.append(ConveyorClient.Request(name: task, args: args, options: opts))
            }
            await ledger.record(await client.send(batch: requests), ids: ids)
            sent += size
            if pause > 0 { try? await Task.sleep(for: .milliseconds(Int(pause * 1000))) }
        }
    }

    /// Seconds from `start` until a task sent after it goes all the way through (the fleet has
    /// recovered): the first send the broker confirms is waited for to the end; a refused or
    /// unknown send is tried again.
    func recovery(_ client: ConveyorClient, since start: Date, timeout: Double = 90) async -> Double? {
        while Date().timeIntervalSince(start) < timeout {
            if let handle = try? await client.send(taskNamed: "conveyor.add", args: [1, 1]) {
                let left = max(1, timeout - Date().timeIntervalSince(start))
                guard let result = try? await handle.wait(timeout: left), result.state == .success else { return nil }
                return Date().timeIntervalSince(start)
            }
            try? await Task.sleep(for: .milliseconds(100))
        }
        return nil
    }

    /// How long the background load of a scenario lasts, seconds.
    var loadSeconds: Double { quick ? 4 : 12 }

    /// A size: small for `--quick` (inside `ops/test`), larger for the full run.
    func size(quick: Int, full: Int) -> Int { self.quick ? quick : full }
}
