import Conveyor
import Foundation

extension Scenarios {
    static let brokerRestart = Scenario(name: "broker-restart",
                                        summary: "RabbitMQ killed (-9) and started again mid-load (workers with --loops 2)") { context in
        // Two loops each: every loop's consumer reconnects, and nothing is acknowledged on the
        // wrong connection.
        try await context.standard("broker", workers: ["broker-a", "broker-b"], count: context.size(quick: 600, full: 3000),
                                   workerExtra: ["--loops", "2"]) { _ in
            // Mid-load, but not within the fraction of a second in which RabbitMQ can still forget
            // the stage's fresh queue on kill -9 (see delayed+restart, and the README's limits).
            try await Task.sleep(for: .milliseconds(1500))
            try await context.infrastructure.run("rabbit-kill", "chaos1")
            try await Task.sleep(for: .seconds(1))
            try await context.infrastructure.run("rabbit-start", "chaos1", "\(ScenarioContext.brokerPort)", "25681")
            return Date()
        }
    }

    static let delayedAcrossRestart = Scenario(name: "delayed+restart", summary: "countdown tasks waiting in the delay cascade while RabbitMQ is killed and restarted") { context in
        let stage = try await context.stage("delay", broker: context.brokerURL(), workers: ["delay-a"])
        return try await withCleanup({ await stage.tearDown() }) {
            // RabbitMQ 3.10 can forget a queue declared a fraction of a second before kill -9
            // (measured: 1 of 15 queues declared 0.2 s before the kill was gone after restart);
            // this scenario is about the cascade, so let the declarations of the stage settle.
            try await Task.sleep(for: .seconds(1.5))
            var due: [String: Date] = [:]
            let count = context.size(quick: 60, full: 300)
            for index in 0..<count {
                let id = UUID().uuidString.lowercased()
                let countdown = Double(3 + index % 6)
                let outcome = await stage.client.send(batch: [ConveyorClient.Request(
                    name: "conveyor.add", args: [1, 1], options: TaskOptions(countdown: countdown, taskId: id))])
                await stage.ledger.record(outcome, ids: [id])
                due[id] = Date().addingTimeInterval(countdown)
            }
            // While every task still waits in the cascade: kill the broker, start it again.
            try await context.infrastructure.run("rabbit-kill", "chaos1")
            try await context.infrastructure.run("rabbit-start", "chaos1", "\(ScenarioContext.brokerPort)", "25681")
            let healed = Date()
            var verdict = try await stage.verdict(drainTimeout: 90)
            verdict.recoverySeconds = await context.recovery(stage.client, since: healed)
            let early = try await stage.client.results(for: Array(due.keys)).filter { result in
                guard let done = result.dateDone, let due = due[result.id] else { return false }
                return done < due.addingTimeInterval(-1)
            }.count
            if early > 0 { verdict.problems.append("\(early) tasks ran more than a second before their ETA") }
            verdict.notes.append("\(count) tasks with countdowns of 3-8 s survived the restart in the cascade")
            return verdict
        }
    }

    static let networkBlackhole = Scenario(name: "network-blackhole", summary: "TCP proxy between workers and broker frozen, then reset") { context in
        try await context.infrastructure.run("proxy-start", "\(ScenarioContext.proxyPort)", "\(ScenarioContext.brokerPort)")
        // Workers go through the proxy with 2 s heartbeats; the publisher goes direct.
        let viaProxy = context.brokerURL(port: ScenarioContext.proxyPort, heartbeat: 2)
        return try await withCleanup({ try? await context.infrastructure.run("proxy-kill", "\(ScenarioContext.proxyPort)") }) {
            try await context.standard("net", broker: viaProxy, workers: ["net-a", "net-b"], count: context.size(quick: 600, full: 3000),
                                       publisher: context.brokerURL()) { _ in
                try await Task.sleep(for: .milliseconds(700))
                try await context.infrastructure.run("proxy-freeze", "\(ScenarioContext.proxyPort)")
                try await Task.sleep(for: .seconds(7))
                try await context.infrastructure.run("proxy-thaw", "\(ScenarioContext.proxyPort)")
                try await Task.sleep(for: .seconds(1))
                try await context.infrastructure.run("proxy-reset", "\(ScenarioContext.proxyPort)")
                return Date()
            }
        }
    }

    static let consumerTimeout = Scenario(name: "consumer-timeout", summary: "broker closes the channel of a task held past consumer_timeout (3 s)") { context in
        try await context.infrastructure.run("rabbit-start", "chaosct", "5682", "25682", "3000")
        return try await withCleanup({ try? await context.infrastructure.run("rabbit-kill", "chaosct") }) {
            let stage = try await context.stage("ct", broker: context.brokerURL(port: 5682), workers: ["ct-a"], concurrency: 4)
            return try await withCleanup({ await stage.tearDown() }) {
                await context.publish(stage.client, ledger: stage.ledger, count: 2, task: "conveyor.sleep", args: [6], batch: 1)
                await context.publish(stage.client, ledger: stage.ledger, count: context.size(quick: 200, full: 1000),
                                      task: "conveyor.sleep", args: [0.005], pause: 0.05)
                var verdict = try await stage.verdict()
                let closes = stage.workers.flatMap(\.logFiles).compactMap { try? String(contentsOf: $0, encoding: .utf8) }
                    .map { $0.components(separatedBy: "delivery acknowledgement").count - 1 }.reduce(0, +)
                if closes == 0 { verdict.problems.append("the broker never closed a channel for consumer timeout; scenario did not exercise it") }
                verdict.notes.append("\(closes) consumer-timeout channel closes")
                return verdict
            }
        }
    }

    static let memoryAlarm = Scenario(name: "memory-alarm", summary: "broker memory alarm: publishing fails clearly after its timeout, then resumes") { context in
        let stage = try await context.stage("alarm", broker: context.brokerURL(), workers: ["alarm-a"], publishTimeout: 3)
        return try await withCleanup({ await stage.tearDown() }) {
            await context.publish(stage.client, ledger: stage.ledger, count: 100, task: "conveyor.sleep", args: [0.01])
            try await context.infrastructure.run("rabbit-ctl", "chaos1", "set_vm_memory_high_watermark", "0")
            var problems: [String] = []
            var notes: [String] = []
            let asked = Date()
            do {
                let handle = try await stage.client.send(taskNamed: "conveyor.add", args: [1, 1])
                problems.append("publishing during the alarm succeeded (task \(handle.id))")
            } catch let error as ConveyorError {
                let took = Date().timeIntervalSince(asked)
                notes.append(String(format: "publish during the alarm failed after %.1f s: %@", took, error.message))
                if took > 8 { problems.append("the failing publish took \(took) s") }
                if !error.message.contains("blocking publishers") { problems.append("the error does not say the broker blocks publishers") }
            }
            try await context.infrastructure.run("rabbit-ctl", "chaos1", "set_vm_memory_high_watermark", "0.4")
            let healed = Date()
            await context.publish(stage.client, ledger: stage.ledger, count: 100, task: "conveyor.sleep", args: [0.01])
            var verdict = try await stage.verdict(drainTimeout: 60)
            verdict.recoverySeconds = await context.recovery(stage.client, since: healed)
            verdict.problems += problems
            verdict.notes += notes
            return verdict
        }
    }

    static let clusterNodeDown = Scenario(name: "cluster-node-down", summary: "3-node cluster, quorum queues, the node clients use stopped under load") { context in
        let label = "cluster"
        let nodes = [("chaosc1", 5701, 25701), ("chaosc2", 5702, 25702), ("chaosc3", 5703, 25703)]
        for (name, port, dist) in nodes { try await context.infrastructure.run("rabbit-start", name, "\(port)", "\(dist)") }
        return try await withCleanup({
            for (name, _, _) in nodes {
                // The nodes' own logs say what the cluster did (elections, closed connections) when a run goes wrong.
                try? await context.infrastructure.run("rabbit-save-logs", name, context.infrastructure.logs.path)
                try? await context.infrastructure.run("rabbit-kill", name)
            }
        }) {
            try await context.infrastructure.run("rabbit-join", "chaosc2", "chaosc1")
            try await context.infrastructure.run("rabbit-join", "chaosc3", "chaosc1")
            let broker = nodes.map { context.brokerURL(port: $0.1, heartbeat: 5) }.joined(separator: ",")
            var verdict = try await context.standard(label, broker: broker, workers: ["cl-a", "cl-b"],
                                                     count: context.size(quick: 400, full: 2000), queueType: .quorum) { stage in
                try await Task.sleep(for: .milliseconds(1500))
                try await context.infrastructure.run("rabbit-stop", "chaosc1")
                let stopped = Date()
                // RabbitMQ 3.10 refuses (nacks) every publish to a quorum queue on a channel whose
                // first publish to it landed after the old leader's node exited but before the new
                // leader updated the queue's record, for as long as that channel lives. A run
                // lands there only by chance (the window is tens of milliseconds), so the client
                // is put there every time: the record names the stopped node again and the
                // client's connection is closed, so it reconnects into the window.
                try await context.infrastructure.run("rabbit-stale-leader", "chaosc2", stage.queue, "chaosc1", "chaos-\(label)")
                return stopped
            }
            // Losing one node of three must be a blip: next to nothing unknown, recovered within seconds.
            let published = verdict.ok + verdict.refused + verdict.unknown
            if verdict.unknown * 100 > published {
                verdict.problems.append("\(verdict.unknown) of \(published) publishes ended unknown (more than 1%)")
            }
            if let recovery = verdict.recoverySeconds {
                if recovery > 10 { verdict.problems.append(String(format: "recovery took %.1f s (more than 10 s)", recovery)) }
            } else {
                verdict.problems.append("no task went through within 90 s of the node stop")
            }
            return verdict
        }
    }
}
