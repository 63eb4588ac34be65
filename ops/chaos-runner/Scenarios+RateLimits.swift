import Conveyor
import Foundation

extension Scenarios {
    /// Workers killed with -9 and restarted while a fleet rate limit holds them back: the limit
    /// lives in Redis, not in any worker, so no one-second window (by the limiter's own clock,
    /// Redis `TIME`, logged per task) may see more than R + B tasks let through, and every task
    /// still ends (deferred copies are messages in RabbitMQ; a killed worker's runs are redelivered).
    static let rateLimitKill = Scenario(name: "rate-limit-kill-9",
                                        summary: "kill -9 and restart workers under a fleet rate limit: no 1 s window above R + B, none lost") { context in
        let rate = 20, burst = 5
        let stage = try await context.stage("limit", broker: context.brokerURL(), workers: ["limit-a", "limit-b", "limit-c"], concurrency: 4,
                                            workerExtra: ["--log-level", "debug", "--rate-limit", "conveyor.add=\(rate)/s,burst=\(burst)"])
        return try await withCleanup({ await stage.tearDown() }) {
            // A fresh limit: what an earlier run of this scenario used must not count.
            try await RateLimitSettings(client: stage.client).resetState(task: "conveyor.add")
            let count = context.size(quick: 200, full: 800)
            await context.publish(stage.client, ledger: stage.ledger, count: count, task: "conveyor.add", args: [1, 2], batch: 100)
            // Kills spread over the limited run (count / rate seconds): a, b, a.
            let spacing = Double(count) / Double(rate) / 4
            for index in [0, 1, 0] {
                try await Task.sleep(for: .milliseconds(Int(spacing * 1000)))
                stage.workers[index].crash()
            }
            var verdict = try await stage.verdict(drainTimeout: Double(count) / Double(rate) * 4 + 60)
            let times = stage.workers.flatMap(\.logFiles).flatMap { passTimes(in: $0) }.sorted()
            let most = maxInOneSecond(times)
            let kills = stage.workers.map { $0.exits.filter { $0 == 128 + SIGKILL || $0 == SIGKILL }.count }.reduce(0, +)
            let deferred = stage.workers.map { $0.logLines("task deferred") }.reduce(0, +)
            // Every run that logged its success logged its pass first, in the same process's log.
            // Counted from the logs rather than the stored results: a worker killed with -9 loses
            // the lines its log writer had not written yet (up to 2 ms of them), so a task can be
            // stored SUCCESS, and answered from that result when redelivered, without its lines.
            let loggedSuccesses = stage.workers.map { $0.logLines("task succeeded") }.reduce(0, +)
            verdict.notes.append("limit \(rate)/s burst \(burst): \(times.count) let through, \(loggedSuccesses) logged successes, at most \(most) in any 1 s, \(deferred) deferrals, \(kills) kills")
            if most > rate + burst { verdict.problems.append("\(most) tasks let through within one second, above R + B = \(rate + burst)") }
            if times.count < loggedSuccesses { verdict.problems.append("\(loggedSuccesses) runs logged success but only \(times.count) passed the limiter") }
            if loggedSuccesses + 2 * kills < verdict.succeeded {
                verdict.problems.append("\(verdict.succeeded) succeeded but only \(loggedSuccesses) runs logged it, more than \(kills) kills can lose")
            }
            if kills < 3 { verdict.problems.append("only \(kills) of 3 kills landed") }
            return verdict
        }
    }

    /// The limiter's `at=` of every task it let through, from a worker's log.
    private static func passTimes(in log: URL) -> [Double] {
        guard let text = try? String(contentsOf: log, encoding: .utf8) else { return [] }
        return text.split(separator: "\n").compactMap { line -> Double? in
            guard line.contains("msg=\"rate limit passed\""), let range = line.range(of: " at=") else { return nil }
            return Double(line[range.upperBound...].prefix { !$0.isWhitespace })
        }
    }

    /// The most of sorted `times` within any [t, t + 1 s).
    private static func maxInOneSecond(_ times: [Double]) -> Int {
        var best = 0
        var start = 0
        for end in times.indices {
            while times[end] - times[start] >= 1 { start += 1 }
            best = max(best, end - start + 1)
        }
        return best
    }
}
