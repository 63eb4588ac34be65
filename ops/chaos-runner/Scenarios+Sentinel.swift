import Foundation
import IOSupport
import Synchronization

extension Scenarios {
    /// Issue 10, item 8: the Redis primary killed under load while Sentinel promotes the replica.
    /// Workers and the client reach Redis only through the sentinels; every confirmed task must
    /// end stored (or dead-lettered), none lost.
    static let redisFailover = Scenario(name: "redis-failover",
                                        summary: "Redis primary killed (-9) under load; Sentinel promotes the replica") { context in
        let set = ChaosSentinelSet(infrastructure: context.infrastructure)
        try await set.start()
        return try await withCleanup({ await set.stop() }) {
            var sentinelContext = context
            sentinelContext.redisURL = set.url
            let workers = Mutex<[SupervisedWorker]>([])
            let failover = Mutex<Double?>(nil)
            var verdict = try await sentinelContext.standard("failover", workers: ["failover-a", "failover-b"],
                                                             count: context.size(quick: 600, full: 3000)) { stage in
                workers.withLock { $0 = stage.workers }
                try await Task.sleep(for: .milliseconds(800))
                let killedAt = Date()
                let killed = try await set.killPrimary()
                let promoted = try await set.waitForFailover(from: killed)
                failover.withLock { $0 = Date().timeIntervalSince(killedAt) }
                context.logger.info("redis primary failed over", metadata: ["killed": "\(killed)", "promoted": "\(promoted)"])
                // Recovery is measured from the kill: how long until the fleet stores results again.
                return killedAt
            }
            let fleet = workers.withLock { $0 }
            let retried = fleet.reduce(0) { $0 + $1.logLines("result store unavailable; retrying") }
            let requeued = fleet.reduce(0) { $0 + $1.logLines("result store unavailable; task requeued") }
            let found = fleet.reduce(0) { $0 + $1.logLines("redis primary found through sentinel") }
            if let seconds = failover.withLock({ $0 }) {
                verdict.notes.append(String(format: "failover %.2fs (kill until the sentinels name the promoted replica)", seconds))
            }
            verdict.notes.append("\(verdict.succeeded) results stored; \(retried) stores retried, \(requeued) tasks requeued after the store retry window")
            verdict.notes.append("workers found a primary through the sentinels \(found) times")
            if found < 2 * fleet.count { verdict.problems.append("a worker never reconnected to the promoted replica (\(found) primaries found)") }
            return verdict
        }
    }
}

/// The scenario's primary, replica and three sentinels (ops/lib/sentinel-set), on ports of its own.
struct ChaosSentinelSet {
    static let primaryPort = 6393
    static let replicaPort = 6394
    static let sentinelPorts = [26393, 26394, 26395]
    static let masterName = "chaos"

    let infrastructure: Infrastructure
    var directory: String { infrastructure.root.appendingPathComponent(".services/faults/sentinel").path }

    var url: String {
        Self.sentinelPorts.map { "sentinel://127.0.0.1:\($0)" }.joined(separator: ";") + "/0?master_name=\(Self.masterName)"
    }

    func start() async throws {
        _ = try? await run("stop", directory)
        _ = try await run(["start", directory, Self.masterName, "\(Self.primaryPort)", "\(Self.replicaPort)"] + Self.sentinelPorts.map(String.init))
    }

    func stop() async {
        _ = try? await run("stop", directory)
    }

    /// kill -9 of the current primary. - Returns: its port.
    func killPrimary() async throws -> Int {
        try port(try await run("kill-primary", directory))
    }

    /// Waits (at most 60 s) until the sentinels name another primary. - Returns: its port.
    func waitForFailover(from old: Int) async throws -> Int {
        try port(try await run("wait-failover", directory, "\(old)", "60"))
    }

    private func port(_ output: String) throws -> Int {
        guard let line = output.split(separator: "\n").last, let port = Int(line) else { throw ChaosError("sentinel-set printed no port: \(output.suffix(400))") }
        return port
    }

    private func run(_ arguments: String...) async throws -> String {
        try await run(arguments)
    }

    /// Runs ops/lib/sentinel-set; returns what it printed, or throws with its output.
    private func run(_ arguments: [String]) async throws -> String {
        let output = infrastructure.logs.appendingPathComponent("sentinel-set-\(UUID().uuidString.prefix(8)).out").path
        let log = infrastructure.logs.appendingPathComponent("sentinel-set.log").path
        let child = try Subprocess.spawn(infrastructure.root.appendingPathComponent("ops/lib/sentinel-set").path, arguments,
                                         standardOutput: .file(output), standardError: .file(log))
        let status = await child.wait()
        let text = (try? String(contentsOfFile: output, encoding: .utf8)) ?? ""
        try? FileManager.default.removeItem(atPath: output)
        guard status == 0 else {
            let errors = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
            throw ChaosError("sentinel-set \(arguments.joined(separator: " ")) exited \(status): \(errors.suffix(800))")
        }
        return text
    }
}
