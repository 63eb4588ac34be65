import Foundation
import IOSupport
import Logging
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// The worker's health file (`WorkerOptions.healthFile`): a probe reads it instead of asking
/// the broker.
extension Worker {
    /// Starts writing the health file, when the options name one: within half a second of the
    /// worker's health changing, and every `options.heartbeatInterval` seconds regardless.
    /// - Returns: what `run` stops (and removes the file with) when it ends.
    func startHealthFile() -> HealthFileWriter? {
        guard let path = options.healthFile else { return nil }
        let writer = HealthFileWriter(path: path, logger: logger)
        writer.loop = Task { await self.healthFileLoop(writer) }
        return writer
    }

    /// What the worker knows of its own health now, without a round trip to the broker: what
    /// the health file holds and a `/healthz` endpoint answers from.
    public var health: WorkerHealth { currentHealth }

    /// What the worker knows of its own health now.
    var currentHealth: WorkerHealth {
        let broker = consumer.state == .connected
        let consuming = isReady && broker
        let redis = redisState == .connected
        let status = WorkerHealth.status(stopping: isShuttingDown, broker: broker, consuming: consuming, redis: redis)
        return WorkerHealth(status: status, broker: broker, consuming: consuming, redis: redis, updatedAt: Date(),
                            pid: Int(processIdentifier), hostname: options.hostname)
    }

    private func healthFileLoop(_ writer: HealthFileWriter) async {
        var last: (health: WorkerHealth, at: Double)?
        // Ends with the writer too: `stop` may come before the loop is handed to it.
        while !Task.isCancelled && !writer.isStopped {
            let health = currentHealth
            let now = monotonicSeconds()
            let unchanged = last.map { previous in
                var same = previous.health
                same.updatedAt = health.updatedAt
                return same == health && now - previous.at < options.heartbeatInterval
            } ?? false
            // A write that failed is tried again on the next tick.
            if !unchanged, writer.write(health) { last = (health, now) }
            try? await Task.sleep(for: .milliseconds(500))
        }
    }
}

/// Writes a health file atomically (a temporary file renamed over it, so a reader sees the old
/// content or the new, never part of either) and removes it once stopped.
final class HealthFileWriter: Sendable {
    let path: String
    private let logger: Logger
    private struct State {
        var stopped = false
        var loop: Task<Void, Never>?
        var failing = false
    }
    private let state = Mutex(State())

    init(path: String, logger: Logger) {
        self.path = path
        self.logger = logger
    }

    /// The task that writes the file, cancelled by `stop`.
    var loop: Task<Void, Never>? {
        get { state.withLock { $0.loop } }
        set { state.withLock { $0.loop = newValue } }
    }

    /// Replaces the file's content, unless stopped. Logs the first failure of a run of them.
    /// - Returns: whether the file now holds `health`.
    func write(_ health: WorkerHealth) -> Bool {
        state.withLock { s in
            guard !s.stopped else { return true }
            let temporary = path + ".tmp"
            let bytes = Data(health.json.serialized(.compact) + [UInt8(ascii: "\n")])
            do {
                try bytes.write(to: URL(fileURLWithPath: temporary))
                guard rename(temporary, path) == 0 else {
                    let reason = String(cString: strerror(errno))
                    unlink(temporary)
                    throw HealthFileError(reason: reason)
                }
                s.failing = false
                return true
            } catch {
                if !s.failing { logger.warning("cannot write the health file", metadata: ["path": "\(path)", "reason": "\(error)"]) }
                s.failing = true
                return false
            }
        }
    }

    /// Whether `stop` was called.
    var isStopped: Bool { state.withLock { $0.stopped } }

    /// Stops writing and removes the file: a worker that is gone has no health to report.
    func stop() {
        let loop = state.withLock { s -> Task<Void, Never>? in
            s.stopped = true
            unlink(path)
            return s.loop
        }
        loop?.cancel()
    }
}

private struct HealthFileError: Error, CustomStringConvertible {
    let reason: String
    var description: String { "rename: \(reason)" }
}
