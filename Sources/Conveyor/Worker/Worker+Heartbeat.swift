import AMQP
import Foundation
import IOSupport
import Logging
import Redis
import Synchronization

/// The worker's heartbeat in Redis, for `conveyor status` and `Fleet`.
extension Worker {
    /// Publishes the worker's heartbeat (what `conveyor status` shows): within half a second of
    /// its counters or state changing, and every `options.heartbeatInterval` seconds regardless, so
    /// an operator looking right after a burst sees the burst.
    func heartbeatLoop() async {
        var lastSent: (counters: [Int], state: String, at: Double)?
        while !Task.isCancelled {
            let s = stats.snapshot
            let active = runningCount
            // A worker cut off from its broker is alive but takes no tasks: say so.
            let state = !isReady ? "draining" : consumer.state == .connected ? "online" : "no broker"
            let counters = [s.succeeded, s.failed, s.deadLettered, s.deferred, active]
            let now = monotonicSeconds()
            if lastSent.map({ $0.counters != counters || $0.state != state || now - $0.at >= options.heartbeatInterval }) ?? true {
                // A beat that did not reach Redis is tried again on the next tick.
                if await sendHeartbeat(s, active: active, state: state) { lastSent = (counters, state, now) }
            }
            try? await Task.sleep(for: .milliseconds(500))
        }
    }

    /// - Returns: whether the heartbeat was stored.
    private func sendHeartbeat(_ s: WorkerStats.Snapshot, active: Int, state: String) async -> Bool {
        let beat = WorkerHeartbeat(hostname: options.hostname, pid: Int(processIdentifier),
                                   queues: queues.map(\.name), concurrency: options.concurrency, active: active,
                                   succeeded: s.succeeded, failed: s.failed, deadLettered: s.deadLettered, deferred: s.deferredByReason,
                                   startedAt: stats.startedAt, sentAt: Date(), state: state, tasks: registry.names)
        // One round trip; the key outlives three missed beats.
        let key = WorkerHeartbeat.key(options.hostname), name = options.hostname
        let commands: [[any RedisArgument]] = [
            ["SET", key, beat.json.serialized(.compact), "EX", Int(3 * options.heartbeatInterval)],
            ["SADD", WorkerHeartbeat.registryKey, name],
            ["SADD", WorkerHeartbeat.queuesKey] + queues.map(\.name),
        ]
        let replies = try? await client.redis.pipeline(commands.map { $0.map(\.redisBytes) }, timeout: 2)
        guard case .status? = replies?.first else { return false }
        return true
    }
}
