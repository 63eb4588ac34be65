import Conveyor
import Foundation
import Logging
import MetricsEndpoint

/// What `conveyor exporter` measures at each scrape, through the same `Fleet` calls as
/// `conveyor status` and `conveyor check queue`.
struct FleetCollector: Sendable {
    let client: ConveyorClient
    /// The queues to report; empty: those `Fleet.queueNames` knows.
    let queues: [String]
    /// Seconds a scrape may spend measuring.
    let timeout: Double
    let logger: Logger

    static let descriptions: [String: String] = [
        "conveyor_up": "1 when the last scrape reached the broker and Redis, else 0 (and no other series).",
        "conveyor_queue_messages": "Messages ready in the queue (not counting those delivered and unacknowledged).",
        "conveyor_queue_consumers": "Consumers of the queue.",
        "conveyor_queue_dead_letters": "Messages in the queue's dead-letter queue (0 when it does not exist yet).",
        "conveyor_workers": "Workers alive: swift from their heartbeats in Redis, python from Celery's remote control.",
        "conveyor_scrape_duration_seconds": "How long this scrape took to measure, in seconds.",
    ]

    /// What one scrape found.
    struct Sample: Sendable {
        var queues: [QueueReport]
        var swiftWorkers: Int
        var pythonWorkers: Int
    }

    /// The series in Prometheus' text format: `conveyor_up 0` alone when measuring failed or
    /// took longer than `timeout` (what was still waiting is left behind).
    func scrape() async -> [UInt8] {
        let started = ContinuousClock.now
        let snapshot = GaugeSnapshot(help: Self.descriptions)
        switch await withDeadline(timeout, { try await self.measure() }) {
        case let .success(sample):
            snapshot.set("conveyor_up", 1)
            for queue in sample.queues {
                let labels = [("queue", queue.name)]
                snapshot.set("conveyor_queue_messages", Double(queue.ready), labels: labels)
                snapshot.set("conveyor_queue_consumers", Double(queue.consumers), labels: labels)
                snapshot.set("conveyor_queue_dead_letters", Double(queue.deadLetters ?? 0), labels: labels)
            }
            snapshot.set("conveyor_workers", Double(sample.swiftWorkers), labels: [("kind", "swift")])
            snapshot.set("conveyor_workers", Double(sample.pythonWorkers), labels: [("kind", "python")])
        case let .failure(error):
            logger.warning("scrape failed", metadata: ["reason": "\(error)"])
            snapshot.set("conveyor_up", 0)
        }
        snapshot.set("conveyor_scrape_duration_seconds", seconds(since: started))
        return snapshot.exposition
    }

    private func measure() async throws -> Sample {
        try await client.connectBroker()
        let fleet = Fleet(client: client)
        // Python workers answer a remote-control broadcast within a second: asked meanwhile.
        async let celeryNodes = fleet.celeryNodes(logger: logger)
        let heartbeats = try await fleet.workers()
        var reports: [QueueReport] = []
        for name in queues.isEmpty ? try await fleet.queueNames() : queues {
            if let report = try await fleet.queue(name) { reports.append(report) }
        }
        let known = Set(heartbeats.map(\.hostname))
        let python = try await celeryNodes.filter { !$0.isConveyor && !known.contains($0.name) }
        return Sample(queues: reports, swiftWorkers: heartbeats.count, pythonWorkers: python.count)
    }
}
