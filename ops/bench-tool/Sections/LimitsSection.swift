import Conveyor
import Foundation
import Histogram
import IOSupport
import Logging
import Redis

/// `ops/bench --limits`: fleet-wide rate limits under load (issue 10's targets). Four
/// `conveyor-worker` processes × `--concurrency 8` run `conveyor.add` limited to R/s with a
/// burst B (`--rate-limit`, so no other worker's `conveyor.add` is touched), fed far more
/// tasks than the limit lets through, for T seconds. Counted from the limiter's own clock: each
/// worker logs the Redis time the limiter let each task through (`rate limit passed at=…`).
///
/// Reports the tasks let through in T seconds against R × T + B, the most in any one-second
/// window (sliding, not aligned), and the limiter's acquire latency measured meanwhile by eight
/// probe clients on their own connections; then the same with `scope=worker` (Celery's
/// meaning: about 4 × R).
struct LimitsSection {
    let bench: BenchContext
    let rate: Int
    let burst: Int
    let seconds: Int
    let workers = 4
    let concurrency = 8
    static let task = "conveyor.add"

    struct Outcome {
        let scope: RateLimit.Scope
        /// Tasks the limits allow in the window: R × T + B per limit (one, or one per worker).
        let expected: Int
        let ran: Int
        let maxWindow: Int
        /// R + B per limit.
        let windowLimit: Int
        let deferrals: Int
        let latency: (p50: Double, p99: Double, samples: Int)?

        var deviation: Double { Double(ran - expected) / Double(expected) }
    }

    func run() async throws -> [Outcome] {
        [try await measure(.fleet, probe: true), try await measure(.worker, probe: false)]
    }

    private func measure(_ scope: RateLimit.Scope, probe: Bool) async throws -> Outcome {
        let limits = scope == .fleet ? 1 : workers
        let queue = bench.queue("limits-\(scope.rawValue)")
        try await bench.client.declare(queue: queue)
        // A previous run's state (its line of deferred tasks) must not carry over.
        try await RateLimitSettings(client: bench.client).resetState(task: Self.task)
        var started: [BenchProcess] = []
        defer { for process in started { process.child.signal(SIGKILL) } }
        for index in 0..<workers {
            started.append(try await startWorker(queue: queue, label: "limits-\(scope.rawValue)-\(index)", scope: scope))
        }
        // Enough for the whole window and then some: the limit, not the supply, must decide.
        let count = limits * (rate * (seconds + 10) + burst)
        let sending = Task { try await bench.enqueue(count, queue: queue) }
        let limiter = RateLimiter(client: bench.client)
        let first = try await firstPass(started)
        let end = first + Double(seconds)
        let probes = probe ? startProbes(until: end) : nil
        // A measurement, not a test: waiting on the clock is the point.
        for _ in 0..<(seconds * 20 + 600) where try await limiter.serverTime() < end + 0.5 {
            try await Task.sleep(for: .milliseconds(100))
        }
        let latency = try await probes?.value
        for process in started { await process.stop(grace: 10) }
        started = []
        _ = try? await sending.value
        let times = try passes(queue: queue, scope: scope).filter { $0 >= first && $0 < end }.sorted()
        let deferrals = deferralCount(scope: scope)
        await bench.deleteQueues([queue])
        return Outcome(scope: scope, expected: limits * (rate * seconds + burst), ran: times.count, maxWindow: Self.maxInOneSecond(times),
                       windowLimit: limits * (rate + burst), deferrals: deferrals, latency: latency)
    }

    private func startWorker(queue: String, label: String, scope: RateLimit.Scope) async throws -> BenchProcess {
        let process = try BenchProcess(
            name: label, executable: bench.paths.worker.path,
            arguments: ["--queues", queue, "--concurrency", "\(concurrency)", "--hostname", bench.workerName("limits"), "--grace-period", "5",
                        "--log-level", "debug", "--rate-limit", "\(Self.task)=\(rate)/s,burst=\(burst),scope=\(scope.rawValue)"],
            log: bench.log(label))
        do {
            _ = try await process.waitForLine(containing: "worker ready", timeout: 60)
        } catch {
            await process.stop(grace: 2)
            throw error
        }
        return process
    }

    /// The limiter's time of the first task let through.
    private func firstPass(_ processes: [BenchProcess]) async throws -> Double {
        for _ in 0..<600 {
            let times = processes.flatMap { Self.times(in: $0.log, event: "rate limit passed") }
            if let first = times.min() { return first }
            try await Task.sleep(for: .milliseconds(100))
        }
        throw BenchError("no task was let through within 60 s")
    }

    private func passes(queue: String, scope: RateLimit.Scope) throws -> [Double] {
        (0..<workers).flatMap { Self.times(in: bench.log("limits-\(scope.rawValue)-\($0)"), event: "rate limit passed") }
    }

    private func deferralCount(scope: RateLimit.Scope) -> Int {
        (0..<workers).map { index in
            let text = (try? String(contentsOf: bench.log("limits-\(scope.rawValue)-\(index)"), encoding: .utf8)) ?? ""
            return text.split(separator: "\n").filter { $0.contains("msg=\"task deferred\"") && $0.contains("reason=rate-limit") }.count
        }.reduce(0, +)
    }

    /// The `at=` of every line of `event` in a worker's log.
    static func times(in log: URL, event: String) -> [Double] {
        guard let text = try? String(contentsOf: log, encoding: .utf8) else { return [] }
        let marker = "msg=\"\(event)\""
        return text.split(separator: "\n").compactMap { line -> Double? in
            guard line.contains(marker), let range = line.range(of: " at=") else { return nil }
            return Double(line[range.upperBound...].prefix { !$0.isWhitespace })
        }
    }

    /// The most times within any window [t, t + 1 s) of sorted `times`.
    static func maxInOneSecond(_ times: [Double]) -> Int {
        var best = 0
        var start = 0
        for end in times.indices {
            while times[end] - times[start] >= 1 { start += 1 }
            best = max(best, end - start + 1)
        }
        return best
    }

    /// Eight clients on their own Redis connections asking the limiter (a key of their own
    /// that always allows) about 200 times a second each until `end` (Redis time).
    private func startProbes(until end: Double) -> Task<(p50: Double, p99: Double, samples: Int), Error> {
        let endpoint = bench.redis.configuration.endpoint
        return Task {
            var logger = Logger(label: "conveyor.bench.probe")
            logger.logLevel = .error
            let key = "bench-probe-\(bench.runId)"
            let samples = try await withThrowingTaskGroup(of: [UInt64].self) { group in
                for index in 0..<8 {
                    let connection = try RedisConnection(configuration: .init(endpoint: endpoint, name: "bench probe \(index)"), logger: logger)
                    group.addTask {
                        defer { Task { await connection.close() } }
                        let limiter = RateLimiter(redis: connection)
                        let timer = RateLimiter(redis: connection)
                        var samples: [UInt64] = []
                        _ = try await limiter.allow(key: key, rate: "10000/s", burst: 10_000)
                        for _ in 0..<200_000 {
                            let began = monotonicSeconds()
                            _ = try await limiter.allow(key: key, rate: "10000/s", burst: 10_000)
                            samples.append(UInt64(max(1, (monotonicSeconds() - began) * 1_000_000)))
                            if samples.count % 50 == 0, try await timer.serverTime() >= end { break }
                            try await Task.sleep(for: .milliseconds(5))
                        }
                        return samples
                    }
                }
                return try await group.reduce(into: []) { $0 += $1 }
            }
            let histogram = LatencySection.histogram(samples)
            return (Double(histogram.valueAtPercentile(50)) / 1000, Double(histogram.valueAtPercentile(99)) / 1000, samples.count)
        }
    }

    /// The report, with the issue's targets.
    func render(_ outcomes: [Outcome]) -> String {
        var lines = ["rate limits: \(workers) conveyor-worker × --concurrency \(concurrency), \(Self.task) limited to \(rate)/s burst \(burst), \(seconds) s window"]
        for outcome in outcomes {
            let verdict: String
            if outcome.scope == .fleet {
                let total = abs(outcome.deviation) <= 0.01 ? "PASS" : "MISS"
                let window = outcome.maxWindow <= outcome.windowLimit ? "PASS" : "MISS"
                verdict = "  total within ±1%: \(total); no 1 s window above R + B: \(window)"
            } else {
                verdict = "  (Celery's per-worker meaning: \(workers) × the limit)"
            }
            lines.append(String(format: "%@  ran %d in %d s (expected %d: %+.2f%%)  max in any 1 s: %d (R + B = %d)  deferrals %d",
                                outcome.scope.rawValue.padding(toLength: 6, withPad: " ", startingAt: 0), outcome.ran, seconds,
                                outcome.expected, outcome.deviation * 100, outcome.maxWindow, outcome.windowLimit, outcome.deferrals) + verdict)
            if let latency = outcome.latency {
                lines.append(String(format: "limiter acquire latency under that load: p50 %.3f ms, p99 %.3f ms (%d calls, 8 clients)  p99 ≤ 0.5 ms: %@",
                                    latency.p50, latency.p99, latency.samples, latency.p99 <= 0.5 ? "PASS" : "MISS"))
            }
        }
        return lines.joined(separator: "\n") + "\n"
    }

    func json(_ outcomes: [Outcome]) -> JSON {
        .object(JSONObject([
            (key: "rate", value: .int(Int64(rate))), (key: "burst", value: .int(Int64(burst))), (key: "seconds", value: .int(Int64(seconds))),
            (key: "workers", value: .int(Int64(workers))), (key: "concurrency", value: .int(Int64(concurrency))),
            (key: "runs", value: .array(outcomes.map { outcome in
                var object: JSONObject = [
                    "scope": .string(outcome.scope.rawValue), "expected": .int(Int64(outcome.expected)), "ran": .int(Int64(outcome.ran)),
                    "deviation": .double(outcome.deviation), "max_in_one_second": .int(Int64(outcome.maxWindow)),
                    "window_limit": .int(Int64(outcome.windowLimit)), "deferrals": .int(Int64(outcome.deferrals)),
                ]
                if let latency = outcome.latency {
                    object["latency_ms"] = ["p50": .double(latency.p50), "p99": .double(latency.p99), "samples": .int(Int64(latency.samples))]
                }
                return .object(object)
            })),
        ]))
    }
}
