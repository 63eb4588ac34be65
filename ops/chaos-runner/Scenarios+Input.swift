import AMQP
import Conveyor
import Foundation

extension Scenarios {
    /// What kind of bad message, and the dead-letter reason it must get.
    private struct BadKind: Sendable {
        let reason: String
        let task: String?
        let contentType: String
        let body: [UInt8]
    }

    private static let goodBody = #"[[1, 2], {}, {"callbacks": null, "errbacks": null, "chain": null, "chord": null}]"#

    private static let badKinds: [BadKind] = [
        BadKind(reason: "malformed-body", task: "conveyor.add", contentType: "application/json", body: Array("[[1, 2], {".utf8)),
        BadKind(reason: "malformed-body", task: "conveyor.add", contentType: "application/json", body: Array("[[1, 2], {}]".utf8)),
        BadKind(reason: "missing-header", task: nil, contentType: "application/json", body: Array(goodBody.utf8)),
        BadKind(reason: "unknown-task", task: "chaos.nope", contentType: "application/json", body: Array(goodBody.utf8)),
        BadKind(reason: "content-type", task: "conveyor.add", contentType: "application/x-python-serialize", body: [0x80, 0x04, 0x95]),
        BadKind(reason: "malformed-body", task: "conveyor.echo", contentType: "application/json",
                body: Array(#"[["x"#.utf8) + [0xC3, 0x28] + Array(#""], {}, {}]"#.utf8)),
        BadKind(reason: "too-large", task: "conveyor.echo", contentType: "application/json",
                body: Array(#"[[""#.utf8) + [UInt8](repeating: 97, count: 200_000) + Array(#""], {}, {}]"#.utf8)),
    ]

    static let badInputBulk = Scenario(name: "bad-input-bulk", summary: "thousands of malformed messages mixed with good tasks") { context in
        let stage = try await context.stage("bad", broker: context.brokerURL(), workers: ["bad-a", "bad-b"],
                                            workerExtra: ["--max-message-size", "100000"])
        return try await withCleanup({ await stage.tearDown() }) {
            let count = context.size(quick: 700, full: 3500)
            let raw = stage.client.brokerConnection
            let queue = stage.queue
            let bad = Task { () -> [String: String] in
                var expected: [String: String] = [:]
                for index in 0..<count {
                    let kind = badKinds[index % badKinds.count]
                    let id = UUID().uuidString.lowercased()
                    var headers: FieldTable = ["lang": .string("py"), "id": .string(id), "retries": .int32(0)]
                    if let task = kind.task { headers["task"] = .string(task) }
                    let message = OutgoingMessage(routingKey: queue, properties: BasicProperties(
                        contentType: kind.contentType, contentEncoding: "utf-8", headers: headers, deliveryMode: 2, correlationId: id),
                        body: kind.body)
                    if (try? await raw.publish(message)) != nil { expected[id] = kind.reason }
                }
                return expected
            }
            await context.publish(stage.client, ledger: stage.ledger, count: count, task: "conveyor.add", args: [2, 3], pause: 0.01)
            let expected = await bad.value
            for id in expected.keys { await stage.ledger.recordOK(id) }
            var verdict = try await stage.verdict()
            let letters = try await DeadLetterBox(client: stage.client).list(queue: queue, limit: 100_000)
            let wrong = letters.filter { letter in letter.taskId.flatMap { expected[$0] }.map { $0 != letter.reason } ?? false }.count
            let found = Set(letters.compactMap(\.taskId))
            let missing = expected.keys.filter { !found.contains($0) }.count
            if wrong > 0 { verdict.problems.append("\(wrong) dead letters with the wrong reason") }
            if missing > 0 { verdict.problems.append("\(missing) bad messages not in the dead letters") }
            verdict.notes.append("\(expected.count) bad messages, \(letters.count) dead letters")
            return verdict
        }
    }

    /// Issue 9's wedge: a Celery-shaped message whose task name is 70 KB (or 120 KB) made its
    /// dead letter too large to encode, and the publisher reconnected and re-published it
    /// forever. Among good tasks, each must end as a dead letter with its reason, without a
    /// reconnect, and the worker must still stop on TERM within its grace period plus 5 s, also
    /// when TERM finds it dead-lettering with the broker unreachable (a frozen proxy).
    static let oversizedHeaders = Scenario(name: "oversized-headers",
                                           summary: "70 KB and 120 KB header messages among good tasks; then TERM") { context in
        // Short in the quick form, so ops/test does not wait out a long grace period twice.
        let grace = context.quick ? 3.0 : 10.0
        let stage = try await context.stage("oversized", broker: context.brokerURL(), workers: ["oversized-a"],
                                            workerExtra: ["--grace-period", "\(grace)"])
        return try await withCleanup({ await stage.tearDown() }) {
            let good = context.size(quick: 300, full: 1000)
            let perKind = context.size(quick: 2, full: 5)
            let raw = stage.client.brokerConnection
            let queue = stage.queue
            let budget = raw.publishLimits.propertiesBudget
            // Name length, and the reason its dead letter must carry.
            let kinds: [(bytes: Int, reason: String)] = [(70_000, "unknown-task"), (120_000, "unknown-task"),
                                                         (budget - 600, "headers-too-large")]
            func publishBad(_ count: Int) async -> [String: String] {
                var expected: [String: String] = [:]
                for index in 0..<count {
                    let kind = kinds[index % kinds.count]
                    let id = UUID().uuidString.lowercased()
                    let headers: FieldTable = ["lang": .string("py"), "task": .string("chaos." + String(repeating: "x", count: kind.bytes)),
                                               "id": .string(id), "retries": .int32(0)]
                    let message = OutgoingMessage(routingKey: queue, properties: BasicProperties(
                        contentType: "application/json", contentEncoding: "utf-8", headers: headers, deliveryMode: 2, correlationId: id),
                        body: Array(goodBody.utf8))
                    if (try? await raw.publish(message)) != nil { expected[id] = kind.reason }
                    try? await Task.sleep(for: .milliseconds(100))
                }
                return expected
            }
            let bad = Task { await publishBad(perKind * kinds.count) }
            await context.publish(stage.client, ledger: stage.ledger, count: good, task: "conveyor.add", args: [2, 3], pause: 0.02)
            let expected = await bad.value
            for id in expected.keys { await stage.ledger.recordOK(id) }
            var verdict = try await stage.verdict()
            let letters = try await DeadLetterBox(client: stage.client).list(queue: queue, limit: 100_000)
            let byId = Dictionary(letters.compactMap { letter in letter.taskId.map { ($0, letter) } }) { first, _ in first }
            let missing = expected.keys.filter { byId[$0] == nil }.count
            let wrong = expected.filter { id, reason in byId[id].map { $0.reason != reason } ?? false }.count
            if missing > 0 { verdict.problems.append("\(missing) oversized messages not in the dead letters") }
            if wrong > 0 { verdict.problems.append("\(wrong) dead letters with the wrong reason") }
            let goodSucceeded = verdict.succeeded
            if goodSucceeded < verdict.ok - expected.count {
                verdict.problems.append("\(verdict.ok - expected.count - goodSucceeded) good tasks did not succeed")
            }

            // TERM while more of them are arriving and being dead-lettered.
            let worker = stage.workers[0]
            let more = Task { await publishBad(kinds.count * 2) }
            try? await Task.sleep(for: .milliseconds(300))
            let exit = await worker.stop(grace: grace + 30)
            _ = await more.value
            let reconnects = worker.logLines("amqp connection lost") + worker.logLines("amqp connection failed")
            if reconnects > 0 { verdict.problems.append("\(reconnects) reconnects of the worker (none expected)") }
            let frozenExit = try await termWhileFrozen(context, grace: grace, task: "chaos." + String(repeating: "x", count: 120_000))
            for (what, seconds) in [("TERM mid-stream", exit), ("TERM with the broker unreachable", frozenExit)] {
                if let seconds {
                    if seconds > grace + 5 {
                        verdict.problems.append(String(format: "%@ to exit took %.1f s (grace %.0f s + 5 s)", what, seconds, grace))
                    }
                } else {
                    verdict.problems.append("\(what): the worker did not exit within \(Int(grace + 30)) s")
                }
            }
            verdict.notes.append("\(expected.count) oversized messages (70 KB, 120 KB, \(budget - 600) B task names): "
                + "\(expected.count - missing) dead-lettered, \(wrong) with a wrong reason; \(goodSucceeded) good tasks succeeded")
            verdict.notes.append("worker reconnects: \(reconnects); TERM to exit, mid-stream: "
                + (exit.map { String(format: "%.2f s", $0) } ?? "killed") + ", broker unreachable while dead-lettering: "
                + (frozenExit.map { String(format: "%.2f s", $0) } ?? "killed") + String(format: " (grace %.0f s)", grace))
            return verdict
        }
    }

    /// A worker behind a proxy dead-letters oversized messages; the proxy freezes once it has
    /// started, and the worker gets TERM with its publishes and its consumer stuck.
    /// - Returns: seconds from TERM to exit, nil if it had to be killed.
    private static func termWhileFrozen(_ context: ScenarioContext, grace: Double, task: String) async throws -> Double? {
        let port = ScenarioContext.proxyPort
        try await context.infrastructure.run("proxy-start", "\(port)", "\(ScenarioContext.brokerPort)")
        return try await withCleanup({ try? await context.infrastructure.run("proxy-kill", "\(port)") }) {
            let stage = try await context.stage("oversized-frozen", broker: context.brokerURL(port: port, heartbeat: 2),
                                                workers: ["oversized-frozen"], workerExtra: ["--grace-period", "\(grace)"],
                                                publisher: context.brokerURL())
            return try await withCleanup({ await stage.tearDown() }) {
                let worker = stage.workers[0]
                for _ in 0..<20 {
                    let id = UUID().uuidString.lowercased()
                    let headers: FieldTable = ["lang": .string("py"), "task": .string(task), "id": .string(id), "retries": .int32(0)]
                    try await stage.client.brokerConnection.publish(OutgoingMessage(routingKey: stage.queue, properties: BasicProperties(
                        contentType: "application/json", contentEncoding: "utf-8", headers: headers, deliveryMode: 2, correlationId: id),
                        body: Array(goodBody.utf8)))
                }
                let deadline = Date().addingTimeInterval(30)
                while worker.logLines("task unknown") == 0 && Date() < deadline { try await Task.sleep(for: .milliseconds(20)) }
                try await context.infrastructure.run("proxy-freeze", "\(port)")
                try await Task.sleep(for: .milliseconds(500))
                let exit = await worker.stop(grace: grace + 30)
                try? await context.infrastructure.run("proxy-thaw", "\(port)")
                return exit
            }
        }
    }
}
