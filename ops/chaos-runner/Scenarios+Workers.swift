import Conveyor
import Foundation

extension Scenarios {
    static let workerKill = Scenario(name: "worker-kill-9", summary: "kill -9 of a worker mid-task, 3 times, another worker alive") { context in
        try await context.standard("kill", workers: ["kill-a", "kill-b"], count: context.size(quick: 600, full: 3000)) { stage in
            var last = Date()
            for _ in 0..<3 {
                try await Task.sleep(for: .milliseconds(700))
                stage.workers[0].crash()
                last = Date()
            }
            return last
        }
    }

    static let poisonAndTimeLimits = Scenario(name: "poison+time-limit", summary: "tasks that crash their worker, and tasks past their hard limit") { context in
        // One task at a time per worker: a crash then takes down only the task that caused it.
        let stage = try await context.stage("poison", broker: context.brokerURL(), workers: ["poison-a", "poison-b"], concurrency: 1,
                                            workerExtra: ["--allow-crash", "--poison-after", "3", "--prefetch", "1"])
        return try await withCleanup({ await stage.tearDown() }) {
            let crashes = 3
            let limited = 10
            async let good: Void = context.publish(stage.client, ledger: stage.ledger, count: context.size(quick: 300, full: 1500),
                                                   task: "conveyor.sleep", args: [0.005], pause: 0.02)
            async let poison: Void = context.publish(stage.client, ledger: stage.ledger, count: crashes, task: "conveyor.crash", args: [],
                                                     batch: 1, pause: 0.2)
            async let slow: Void = context.publish(stage.client, ledger: stage.ledger, count: limited, task: "conveyor.sleep", args: [5],
                                                   options: TaskOptions(timeLimit: 0.5), batch: 1, pause: 0.05)
            _ = await (good, poison, slow)
            var verdict = try await stage.verdict()
            let letters = try await DeadLetterBox(client: stage.client).list(queue: stage.queue, limit: 10_000)
            let poisoned = letters.filter { $0.reason == "poison" && $0.task == "conveyor.crash" }.count
            if poisoned != crashes { verdict.problems.append("\(poisoned) of \(crashes) crash tasks dead-lettered as poison") }
            let okIds = await stage.ledger.ok
            let timedOut = try await stage.client.results(for: okIds).filter { $0.exception?.type == "TimeLimitExceeded" }.count
            if timedOut != limited { verdict.problems.append("\(timedOut) of \(limited) tasks recorded TimeLimitExceeded") }
            let restarts = stage.workers.map { $0.exits.filter { $0 == 70 }.count }.reduce(0, +)
            verdict.notes.append("\(restarts) worker crashes, \(poisoned) poison dead letters, \(timedOut) hard-limit failures")
            return verdict
        }
    }
}
