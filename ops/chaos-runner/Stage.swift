import Conveyor
import Foundation

/// One scenario's cast: a connected client and supervised workers on a queue of its own.
struct Stage {
    let queue: String
    let client: ConveyorClient
    let workers: [SupervisedWorker]
    let ledger = Ledger()

    /// Waits (bounded) for every confirmed task to settle and judges the ledger.
    func verdict(drainTimeout: Double = 120) async throws -> Verdict {
        try await Checker(client: client, queue: queue).verdict(ledger: ledger, workers: workers, drainTimeout: drainTimeout)
    }

    /// Stops the workers and closes the client.
    func tearDown() async {
        for worker in workers { await worker.stop() }
        await client.close()
    }
}

extension ScenarioContext {
    /// A queue named after `label`, a client on `broker` that declared it, and `workers` started.
    /// The client uses `publisher` when given (e.g. direct while workers go through a proxy).
    func stage(_ label: String, broker: String, workers names: [String], concurrency: Int = 8, queueType: QueueType = .classic,
               workerExtra: [String] = [], workerEnvironment: [String: String] = [:], publishTimeout: Double? = nil,
               publisher: String? = nil, restartDelay: Duration = .milliseconds(300)) async throws -> Stage {
        let queue = "chaos.\(label).\(UUID().uuidString.prefix(6))"
        var configuration = configuration(broker: publisher ?? broker, queue: queue, queueType: queueType)
        if let publishTimeout { configuration.publishTimeout = publishTimeout }
        let client = try ConveyorClient(configuration: configuration, name: "chaos-\(label)", logger: logger)
        try await client.connect(timeout: 30)
        try await client.declare(queue: queue)
        let workers = names.map {
            worker($0, queue: queue, broker: broker, concurrency: concurrency, queueType: queueType, extra: workerExtra,
                   environment: workerEnvironment, restartDelay: restartDelay)
        }
        for worker in workers { try await worker.start() }
        return Stage(queue: queue, client: client, workers: workers)
    }

    /// The common shape: load in the background, `inject` while it flows, then settle and judge.
    /// `inject` returns when the fault was healed, for the recovery time. `workerExtra` goes to
    /// every worker's command line.
    func standard(_ label: String, broker: String? = nil, workers: [String], count: Int, queueType: QueueType = .classic,
                  publisher: String? = nil, workerExtra: [String] = [],
                  inject: @Sendable (Stage) async throws -> Date?) async throws -> Verdict {
        let stage = try await stage(label, broker: broker ?? brokerURL(), workers: workers, queueType: queueType,
                                    workerExtra: workerExtra, publisher: publisher)
        return try await withCleanup({ await stage.tearDown() }) {
            // Spread the load over a few seconds so the fault lands while tasks are in flight.
            let pause = loadSeconds / Double(max(1, count / 50))
            let load = Task { await publish(stage.client, ledger: stage.ledger, count: count, task: "conveyor.sleep", args: [0.01], pause: pause) }
            let healed = try await inject(stage)
            // Probed from the heal on, alongside the rest of the load: measured after the drain,
            // recovery would only say how long the load lasted.
            let recovery = healed.map { healed in Task { await self.recovery(stage.client, since: healed) } }
            await load.value
            var verdict = try await stage.verdict()
            verdict.recoverySeconds = await recovery?.value
            return verdict
        }
    }
}
