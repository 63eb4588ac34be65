import AMQP
import Conveyor
import Foundation

/// A fault scenario: set up, load, inject, heal, drain, judge.
struct Scenario: Sendable {
    let name: String
    let summary: String
    let run: @Sendable (ScenarioContext) async throws -> Verdict
}

/// Runs `body`, then `cleanup` whether it threw or not.
func withCleanup<T>(_ cleanup: () async -> Void, _ body: () async throws -> T) async throws -> T {
    do {
        let value = try await body()
        await cleanup()
        return value
    } catch {
        await cleanup()
        throw error
    }
}

enum Scenarios {
    static let all: [Scenario] = [workerKill, brokerRestart, delayedAcrossRestart, redisRestart, networkBlackhole,
                                  poisonAndTimeLimits, consumerTimeout, memoryAlarm, clusterNodeDown, badInputBulk]

    /// Runs the common shape: workers up, load in the background, `inject` while it flows,
    /// then wait for the ledger to settle.
    static func standard(_ context: ScenarioContext, queue: String, broker: String, workers names: [String], count: Int,
                         task: String = "conveyor.sleep", args: [JSON] = [0.01], queueType: QueueType = .classic,
                         workerExtra: [String] = [], concurrency: Int = 8,
                         inject: @Sendable (ConveyorClient, [SupervisedWorker]) async throws -> Date?) async throws -> Verdict {
        let client = try context.client(broker: broker, queue: queue, queueType: queueType)
        try await client.connect(timeout: 30)
        try await client.declare(queue: queue)
        let workers = names.map { context.worker($0, queue: queue, broker: broker, concurrency: concurrency, queueType: queueType, extra: workerExtra) }
        for worker in workers { try await worker.start() }
        let ledger = Ledger()
        // Spread the load over a few seconds so the fault lands while tasks are in flight.
        let pause = context.loadSeconds / Double(max(1, count / 50))
        let load = Task { await context.publish(client, ledger: ledger, count: count, task: task, args: args, pause: pause) }
        let healed = try await inject(client, workers)
        await load.value
        var verdict = try await Checker(client: client, queue: queue).verdict(ledger: ledger, workers: workers, drainTimeout: 120)
        if let healed { verdict.recoverySeconds = await context.recovery(client, since: healed) }
        for worker in workers { await worker.stop() }
        await client.close()
        return verdict
    }

    static let workerKill = Scenario(name: "worker-kill-9", summary: "kill -9 of a worker mid-task, 3 times, another worker alive") { context in
        let queue = "chaos.kill.\(UUID().uuidString.prefix(6))"
        return try await standard(context, queue: queue, broker: context.brokerURL(), workers: ["kill-a", "kill-b"],
                                  count: context.size(quick: 600, full: 3000)) { _, workers in
            var last = Date()
            for _ in 0..<3 {
                try await Task.sleep(for: .milliseconds(700))
                workers[0].crash()
                last = Date()
            }
            return last
        }
    }

    static let brokerRestart = Scenario(name: "broker-restart", summary: "RabbitMQ killed (-9) and started again mid-load") { context in
        let queue = "chaos.broker.\(UUID().uuidString.prefix(6))"
        return try await standard(context, queue: queue, broker: context.brokerURL(), workers: ["broker-a", "broker-b"],
                                  count: context.size(quick: 600, full: 3000)) { _, _ in
            try await Task.sleep(for: .milliseconds(800))
            try await context.infrastructure.run("rabbit-kill", "chaos1")
            try await Task.sleep(for: .seconds(1))
            try await context.infrastructure.run("rabbit-start", "chaos1", "\(ScenarioContext.brokerPort)", "25681")
            return Date()
        }
    }

    static let delayedAcrossRestart = Scenario(name: "delayed+restart", summary: "countdown tasks waiting in the delay cascade while RabbitMQ is killed and restarted") { context in
        let queue = "chaos.delay.\(UUID().uuidString.prefix(6))"
        let client = try context.client(broker: context.brokerURL(), queue: queue)
        try await client.connect(timeout: 30)
        try await client.declare(queue: queue)
        let workers = ["delay-a"].map { context.worker($0, queue: queue, broker: context.brokerURL()) }
        for worker in workers { try await worker.start() }
        let ledger = Ledger()
        var due: [String: Date] = [:]
        let count = context.size(quick: 60, full: 300)
        for index in 0..<count {
            let id = UUID().uuidString.lowercased()
            let countdown = Double(3 + index % 6)
            let outcome = await client.send(batch: [ConveyorClient.Request(
                name: "conveyor.add", args: [1, 1], options: TaskOptions(countdown: countdown, taskId: id))])
            await ledger.record(outcome, ids: [id])
            due[id] = Date().addingTimeInterval(countdown)
        }
        // While every task still waits in the cascade: kill the broker, start it again.
        try await context.infrastructure.run("rabbit-kill", "chaos1")
        try await context.infrastructure.run("rabbit-start", "chaos1", "\(ScenarioContext.brokerPort)", "25681")
        let healed = Date()
        var verdict = try await Checker(client: client, queue: queue).verdict(ledger: ledger, workers: workers, drainTimeout: 90)
        verdict.recoverySeconds = await context.recovery(client, since: healed)
        let early = try await client.results(for: Array(due.keys)).filter { result in
            guard let done = result.dateDone, let due = due[result.id] else { return false }
            return done < due.addingTimeInterval(-1)
        }.count
        if early > 0 { verdict.problems.append("\(early) tasks ran more than a second before their ETA") }
        verdict.notes.append("\(count) tasks with countdowns of 3-8 s survived the restart in the cascade")
        for worker in workers { await worker.stop() }
        await client.close()
        return verdict
    }

    static let redisRestart = Scenario(name: "redis-restart", summary: "Redis killed (-9) and restarted mid-load") { context in
        let queue = "chaos.redis.\(UUID().uuidString.prefix(6))"
        return try await standard(context, queue: queue, broker: context.brokerURL(), workers: ["redis-a", "redis-b"],
                                  count: context.size(quick: 600, full: 3000)) { _, _ in
            try await Task.sleep(for: .milliseconds(800))
            try await context.infrastructure.run("redis-kill", "\(ScenarioContext.redisPort)")
            try await Task.sleep(for: .seconds(3))
            try await context.infrastructure.run("redis-start", "\(ScenarioContext.redisPort)")
            return Date()
        }
    }

    static let networkBlackhole = Scenario(name: "network-blackhole", summary: "TCP proxy between workers and broker frozen, then reset") { context in
        let queue = "chaos.net.\(UUID().uuidString.prefix(6))"
        try await context.infrastructure.run("proxy-start", "\(ScenarioContext.proxyPort)", "\(ScenarioContext.brokerPort)")
        // Workers go through the proxy with 2 s heartbeats; the publisher goes direct.
        let viaProxy = context.brokerURL(port: ScenarioContext.proxyPort, heartbeat: 2)
        let client = try context.client(broker: context.brokerURL(), queue: queue)
        try await client.connect(timeout: 30)
        try await client.declare(queue: queue)
        let workers = ["net-a", "net-b"].map { context.worker($0, queue: queue, broker: viaProxy) }
        for worker in workers { try await worker.start() }
        let ledger = Ledger()
        let load = Task { await context.publish(client, ledger: ledger, count: context.size(quick: 600, full: 3000), task: "conveyor.sleep", args: [0.01], pause: context.loadSeconds / 12) }
        try await Task.sleep(for: .milliseconds(700))
        try await context.infrastructure.run("proxy-freeze", "\(ScenarioContext.proxyPort)")
        try await Task.sleep(for: .seconds(7))
        try await context.infrastructure.run("proxy-thaw", "\(ScenarioContext.proxyPort)")
        try await Task.sleep(for: .seconds(1))
        try await context.infrastructure.run("proxy-reset", "\(ScenarioContext.proxyPort)")
        let healed = Date()
        await load.value
        var verdict = try await Checker(client: client, queue: queue).verdict(ledger: ledger, workers: workers, drainTimeout: 120)
        verdict.recoverySeconds = await context.recovery(client, since: healed)
        for worker in workers { await worker.stop() }
        await client.close()
        try? await context.infrastructure.run("proxy-kill", "\(ScenarioContext.proxyPort)")
        return verdict
    }

    static let poisonAndTimeLimits = Scenario(name: "poison+time-limit", summary: "tasks that crash their worker, and tasks past their hard limit") { context in
        let queue = "chaos.poison.\(UUID().uuidString.prefix(6))"
        let client = try context.client(broker: context.brokerURL(), queue: queue)
        try await client.connect(timeout: 30)
        try await client.declare(queue: queue)
        let workers = ["poison-a", "poison-b"].map {
            // One task at a time: a crash then takes down only the task that caused it.
            context.worker($0, queue: queue, broker: context.brokerURL(), concurrency: 1,
                           extra: ["--allow-crash", "--poison-after", "3", "--prefetch", "1"])
        }
        for worker in workers { try await worker.start() }
        let ledger = Ledger()
        let crashes = 3
        let limited = 10
        async let good: Void = context.publish(client, ledger: ledger, count: context.size(quick: 300, full: 1500), task: "conveyor.sleep", args: [0.005], pause: 0.02)
        async let poison: Void = context.publish(client, ledger: ledger, count: crashes, task: "conveyor.crash", args: [], batch: 1, pause: 0.2)
        async let slow: Void = context.publish(client, ledger: ledger, count: limited, task: "conveyor.sleep", args: [5],
                                               options: TaskOptions(timeLimit: 0.5), batch: 1, pause: 0.05)
        _ = await (good, poison, slow)
        var verdict = try await Checker(client: client, queue: queue).verdict(ledger: ledger, workers: workers, drainTimeout: 120)
        let letters = try await DeadLetterBox(client: client).list(queue: queue, limit: 10_000)
        let poisoned = letters.filter { $0.reason == "poison" && $0.task == "conveyor.crash" }.count
        if poisoned != crashes { verdict.problems.append("\(poisoned) of \(crashes) crash tasks dead-lettered as poison") }
        let okIds = await ledger.ok
        let timedOut = try await client.results(for: okIds).filter { $0.exception?.type == "TimeLimitExceeded" }.count
        if timedOut != limited { verdict.problems.append("\(timedOut) of \(limited) tasks recorded TimeLimitExceeded") }
        let restarts = workers.map { $0.exits.filter { $0 == 70 }.count }.reduce(0, +)
        verdict.notes.append("\(restarts) worker crashes, \(poisoned) poison dead letters, \(timedOut) hard-limit failures")
        for worker in workers { await worker.stop() }
        await client.close()
        return verdict
    }

    static let consumerTimeout = Scenario(name: "consumer-timeout", summary: "broker closes the channel of a task held past consumer_timeout (3 s)") { context in
        let queue = "chaos.ct.\(UUID().uuidString.prefix(6))"
        try await context.infrastructure.run("rabbit-start", "chaosct", "5682", "25682", "3000")
        return try await withCleanup({ try? await context.infrastructure.run("rabbit-kill", "chaosct") }) {
        let broker = context.brokerURL(port: 5682)
        let client = try context.client(broker: broker, queue: queue)
        try await client.connect(timeout: 30)
        try await client.declare(queue: queue)
        let workers = ["ct-a"].map { context.worker($0, queue: queue, broker: broker, concurrency: 4) }
        for worker in workers { try await worker.start() }
        let ledger = Ledger()
        await context.publish(client, ledger: ledger, count: 2, task: "conveyor.sleep", args: [6], batch: 1)
        await context.publish(client, ledger: ledger, count: context.size(quick: 200, full: 1000), task: "conveyor.sleep", args: [0.005], pause: 0.05)
        let verdict = try await Checker(client: client, queue: queue).verdict(ledger: ledger, workers: workers, drainTimeout: 120)
        let closes = workers.flatMap(\.logFiles).compactMap { try? String(contentsOf: $0, encoding: .utf8) }
            .map { $0.components(separatedBy: "delivery acknowledgement").count - 1 }.reduce(0, +)
        var result = verdict
        if closes == 0 { result.problems.append("the broker never closed a channel for consumer timeout; scenario did not exercise it") }
        result.notes.append("\(closes) consumer-timeout channel closes")
        for worker in workers { await worker.stop() }
        await client.close()
        return result
        }
    }

    static let memoryAlarm = Scenario(name: "memory-alarm", summary: "broker memory alarm: publishing fails clearly after its timeout, then resumes") { context in
        let queue = "chaos.alarm.\(UUID().uuidString.prefix(6))"
        var configuration = context.configuration(broker: context.brokerURL(), queue: queue)
        configuration.publishTimeout = 3
        let client = try ConveyorClient(configuration: configuration, name: "chaos-alarm", logger: context.logger)
        try await client.connect(timeout: 30)
        try await client.declare(queue: queue)
        let workers = ["alarm-a"].map { context.worker($0, queue: queue, broker: context.brokerURL()) }
        for worker in workers { try await worker.start() }
        let ledger = Ledger()
        await context.publish(client, ledger: ledger, count: 100, task: "conveyor.sleep", args: [0.01])
        try await context.infrastructure.run("rabbit-ctl", "chaos1", "set_vm_memory_high_watermark", "0")
        var problems: [String] = []
        var notes: [String] = []
        let asked = Date()
        do {
            let handle = try await client.send(taskNamed: "conveyor.add", args: [1, 1])
            problems.append("publishing during the alarm succeeded (task \(handle.id))")
        } catch let error as ConveyorError {
            let took = Date().timeIntervalSince(asked)
            notes.append(String(format: "publish during the alarm failed after %.1f s: %@", took, error.message))
            if took > configuration.publishTimeout + 5 { problems.append("the failing publish took \(took) s") }
            if !error.message.contains("blocking publishers") { problems.append("the error does not say the broker blocks publishers") }
        }
        try await context.infrastructure.run("rabbit-ctl", "chaos1", "set_vm_memory_high_watermark", "0.4")
        let healed = Date()
        await context.publish(client, ledger: ledger, count: 100, task: "conveyor.sleep", args: [0.01])
        var verdict = try await Checker(client: client, queue: queue).verdict(ledger: ledger, workers: workers, drainTimeout: 60)
        verdict.recoverySeconds = await context.recovery(client, since: healed)
        verdict.problems += problems
        verdict.notes += notes
        for worker in workers { await worker.stop() }
        await client.close()
        return verdict
    }

    static let clusterNodeDown = Scenario(name: "cluster-node-down", summary: "3-node cluster, quorum queues, the node clients use stopped under load") { context in
        let queue = "chaos.cluster.\(UUID().uuidString.prefix(6))"
        let nodes = [("chaosc1", 5701, 25701), ("chaosc2", 5702, 25702), ("chaosc3", 5703, 25703)]
        for (name, port, dist) in nodes { try await context.infrastructure.run("rabbit-start", name, "\(port)", "\(dist)") }
        return try await withCleanup({ for (name, _, _) in nodes { try? await context.infrastructure.run("rabbit-kill", name) } }) {
        try await context.infrastructure.run("rabbit-join", "chaosc2", "chaosc1")
        try await context.infrastructure.run("rabbit-join", "chaosc3", "chaosc1")
        let broker = nodes.map { context.brokerURL(port: $0.1, heartbeat: 5) }.joined(separator: ",")
        return try await standard(context, queue: queue, broker: broker, workers: ["cl-a", "cl-b"], count: context.size(quick: 400, full: 2000),
                                  queueType: .quorum) { _, _ in
            try await Task.sleep(for: .milliseconds(1500))
            try await context.infrastructure.run("rabbit-stop", "chaosc1")
            return Date()
        }
        }
    }

    static let badInputBulk = Scenario(name: "bad-input-bulk", summary: "thousands of malformed messages mixed with good tasks") { context in
        let queue = "chaos.bad.\(UUID().uuidString.prefix(6))"
        let client = try context.client(broker: context.brokerURL(), queue: queue)
        try await client.connect(timeout: 30)
        try await client.declare(queue: queue)
        let workers = ["bad-a", "bad-b"].map { context.worker($0, queue: queue, broker: context.brokerURL(), extra: ["--max-message-size", "100000"]) }
        for worker in workers { try await worker.start() }
        let ledger = Ledger()
        let count = context.size(quick: 700, full: 3500)
        let raw = client.brokerConnection
        let good = #"[[1, 2], {}, {"callbacks": null, "errbacks": null, "chain": null, "chord": null}]"#
        let kinds: [(reason: String, task: String?, contentType: String, body: [UInt8])] = [
            ("malformed-body", "conveyor.add", "application/json", Array("[[1, 2], {".utf8)),
            ("malformed-body", "conveyor.add", "application/json", Array("[[1, 2], {}]".utf8)),
            ("missing-header", nil, "application/json", Array(good.utf8)),
            ("unknown-task", "chaos.nope", "application/json", Array(good.utf8)),
            ("content-type", "conveyor.add", "application/x-python-serialize", [0x80, 0x04, 0x95]),
            ("malformed-body", "conveyor.echo", "application/json", Array(#"[["x"#.utf8) + [0xC3, 0x28] + Array(#""], {}, {}]"#.utf8)),
            ("too-large", "conveyor.echo", "application/json", Array(#"[[""#.utf8) + [UInt8](repeating: 97, count: 200_000) + Array(#""], {}, {}]"#.utf8)),
        ]
        var expected: [String: String] = [:]
        let badTask = Task { () -> [String: String] in
            var expected: [String: String] = [:]
            for index in 0..<count {
                let kind = kinds[index % kinds.count]
                let id = UUID().uuidString.lowercased()
                var headers: FieldTable = ["lang": .string("py"), "id": .string(id), "retries": .int32(0)]
                if let task = kind.task { headers["task"] = .string(task) }
                let message = OutgoingMessage(routingKey: queue, properties: BasicProperties(
                    contentType: kind.contentType, contentEncoding: "utf-8", headers: headers, deliveryMode: 2, correlationId: id), body: kind.body)
                do {
                    try await raw.publish(message)
                    expected[id] = kind.reason
                } catch {}
            }
            return expected
        }
        await context.publish(client, ledger: ledger, count: count, task: "conveyor.add", args: [2, 3], pause: 0.01)
        expected = await badTask.value
        for id in expected.keys { await ledger.recordOK(id) }
        var verdict = try await Checker(client: client, queue: queue).verdict(ledger: ledger, workers: workers, drainTimeout: 120)
        let letters = try await DeadLetterBox(client: client).list(queue: queue, limit: 100_000)
        var wrong = 0
        for letter in letters {
            if let id = letter.taskId, let reason = expected[id], reason != letter.reason { wrong += 1 }
        }
        let missing = expected.keys.filter { id in !letters.contains { $0.taskId == id } }.count
        if wrong > 0 { verdict.problems.append("\(wrong) dead letters with the wrong reason") }
        if missing > 0 { verdict.problems.append("\(missing) bad messages not in the dead letters") }
        verdict.notes.append("\(expected.count) bad messages, \(letters.count) dead letters")
        for worker in workers { await worker.stop() }
        await client.close()
        return verdict
    }
}
