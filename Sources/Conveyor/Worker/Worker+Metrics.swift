import AMQP
import Foundation
import IOSupport

/// The worker's gauges (`WorkerMetrics`): connection states as they change, the rest sampled.
extension Worker {
    /// How often the sampled gauges (active, reserved, concurrency, draining) are set.
    static let metricsSampleInterval = 1.0

    /// Follows the consumers' and Redis' connection states (called once, from `init`): each
    /// counts as connected while every loop's connection is.
    func observeConnectionsForMetrics() {
        let metrics = self.metrics
        consumer.onStateChange { metrics.brokerState(connected: $0) }
        let connections = consumer.redisConnections(client: client.redis)
        let combined = CombinedConnectionState(count: connections.count)
        for (index, redis) in connections.enumerated() {
            redis.onStateChange { metrics.redisState(connected: combined.update(index, $0)) }
        }
    }

    /// Sets the sampled gauges every `metricsSampleInterval` until cancelled, and once more then.
    func metricsLoop() async {
        while !Task.isCancelled {
            sampleGauges()
            try? await Task.sleep(for: .sleeping(seconds: Self.metricsSampleInterval))
        }
        sampleGauges()
    }

    private func sampleGauges() {
        metrics.activeTasks.record(runningCount)
        metrics.reservedTasks.record(consumer.waitingCount)
        metrics.concurrency.record(slots.capacity)
        metrics.draining.record(isShuttingDown ? 1 : 0)
        metrics.brokerConnected.record(consumer.state == .connected ? 1 : 0)
        metrics.redisConnected.record(redisState == .connected ? 1 : 0)
    }

    /// `.connected` while every Redis connection is; otherwise the first other one's state.
    var redisState: ConnectionState {
        .combined(consumer.redisConnections(client: client.redis).lazy.map(\.state))
    }

    /// The series of a delivery's task on its queue, for one whose message did not decode: the
    /// task header when there is one.
    func series(of delivery: Delivery) -> WorkerMetrics.TaskSeries {
        metrics.series(delivery.properties.headers?["task"]?.stringValue ?? WorkerMetrics.unregisteredTask, queue: delivery.queue)
    }
}

extension Worker {
    /// A one-line description of every series a worker reports through swift-metrics, by name:
    /// what a backend shows as help (Prometheus' `# HELP`).
    public static let metricDescriptions: [String: String] = [
        "conveyor_tasks_received_total": "Task messages delivered to this worker, by task and queue.",
        "conveyor_tasks_finished_total":
            "Task messages this worker finished with, by outcome (success, failure, retry, revoked, rejected, deferred, requeued, delayed, skipped).",
        "conveyor_task_duration_seconds": "How long task bodies ran, in seconds.",
        "conveyor_task_wait_seconds": "Time from a message's delivery to this worker to its task's start, in seconds.",
        "conveyor_active_tasks": "Task bodies running now.",
        "conveyor_reserved_tasks": "Prefetched messages waiting for a slot.",
        "conveyor_concurrency": "Tasks this worker runs at the same time at most (pool_grow and pool_shrink change it).",
        "conveyor_draining": "1 while the worker shuts down and takes no new tasks, else 0.",
        "conveyor_broker_connected": "1 while the consumer's broker connection is up, else 0.",
        "conveyor_redis_connected": "1 while the result store (Redis) connection is up, else 0.",
        "conveyor_broker_reconnects_total": "Times the consumer's broker connection came back after it was lost.",
        "conveyor_redis_reconnects_total": "Times the Redis connection came back after it was lost.",
    ]
}
