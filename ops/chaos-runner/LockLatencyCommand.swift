import ArgumentParser
import Conveyor
import Foundation
import IOSupport

/// `conveyor-chaos lock-latency`: lock acquire latency on a Redis (the development one by
/// default, on loopback): `clients` tasks each take and release locks of their own, one at a
/// time; the acquire (one script call) is timed. Prints p50, p99 and the worst in milliseconds.
struct LockLatencyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "lock-latency", abstract: "Measure lock acquire latency (p50/p99).")

    @Option(help: "Redis URL.")
    var redis = "redis://127.0.0.1:6379/0"

    @Option(help: "Concurrent clients, 1 to 256 (each its own connection).")
    var clients = 8

    @Option(help: "Acquisitions per client, 1 to 1000000.")
    var count = 5000

    @Flag(help: "All clients share one connection (commands pipeline on it) instead of one each.")
    var shared = false

    func validate() throws {
        guard (1...256).contains(clients) else { throw ValidationError("--clients must be 1...256") }
        guard (1...1_000_000).contains(count) else { throw ValidationError("--count must be 1...1000000") }
    }

    func run() async throws {
        var settings = ConveyorConfiguration(resultURL: redis)
        settings.connectTimeout = 10
        let configuration = settings
        let run = String(UUID().uuidString.prefix(8))
        let count = self.count
        let sharedClient = shared ? try ConveyorClient(configuration: configuration, name: "lock-latency") : nil
        let samples = try await withThrowingTaskGroup(of: [Double].self) { group in
            for lane in 0..<clients {
                group.addTask {
                    let client = try sharedClient ?? ConveyorClient(configuration: configuration, name: "lock-latency")
                    try await client.pingBackend(timeout: 10)
                    let locks = client.locks
                    var times: [Double] = []
                    times.reserveCapacity(count)
                    for index in 0..<count {
                        let name = "latency:\(run):\(lane):\(index % 16)"
                        let began = monotonicSeconds()
                        guard let lease = try await locks.tryAcquire(name, lease: .seconds(10)) else {
                            throw ChaosError("lock \(name) unexpectedly busy")
                        }
                        times.append(monotonicSeconds() - began)
                        try await lease.release()
                    }
                    if sharedClient == nil { await client.close() }
                    return times
                }
            }
            return try await group.reduce(into: []) { $0 += $1 }
        }.sorted()
        await sharedClient?.close()
        func percentile(_ p: Double) -> Double { samples[min(samples.count - 1, Int(Double(samples.count) * p))] * 1000 }
        print(String(format: "lock acquire on %@: %d acquisitions, %d clients%@: p50 %.3f ms, p99 %.3f ms, max %.3f ms",
                     redis, samples.count, clients, shared ? " on one connection" : "", percentile(0.5), percentile(0.99), (samples.last ?? 0) * 1000))
    }
}
