import Conveyor
import Foundation

/// The email family under faults, against the project's SMTP sink on a port of the run's own:
/// the server down for 10 s mid-batch, workers killed while they send, a domain answering 5xx.
/// Every mail is judged by its Message-ID (`<TASK-ID@conveyor.test>`) in the sink's mailbox.
extension Scenarios {
    static let emailServerDown = Scenario(name: "email-smtp-down",
                                          summary: "the SMTP server killed for 10 s mid-batch: every mail arrives once it is back, none twice") { context in
        try await emailStage(context, label: "mail-down", workers: ["mail-a", "mail-b"]) { stage, sink in
            let count = context.size(quick: 200, full: 1000)
            let load = Task { await publishMail(context, stage, count: count, domain: "example.com", seconds: context.loadSeconds) }
            try await Task.sleep(for: .seconds(1))
            await sink.kill()
            try await Task.sleep(for: .seconds(10))
            try await sink.start()
            let healed = Date()
            await load.value
            var verdict = try await stage.verdict(drainTimeout: 300)
            verdict.recoverySeconds = Date().timeIntervalSince(healed)
            try await judgeMail(&verdict, stage, sink)
            let retries = stage.workers.map { $0.logLines("task retry") }.reduce(0, +)
            verdict.notes.append("\(retries) retries while the server was down")
            if retries == 0 { verdict.problems.append("no retry: the outage did not land mid-batch") }
            return verdict
        }
    }

    static let emailWorkerKill = Scenario(name: "email-kill-9",
                                          summary: "kill -9 of a sending worker many times: nothing recorded as sent arrives twice; unknown outcomes resend the same Message-ID, counted") { context in
        try await emailStage(context, label: "mail-kill", workers: ["mailk-a", "mailk-b"]) { stage, sink in
            let count = context.size(quick: 1000, full: 4000)
            let kills = context.size(quick: 8, full: 24)
            // A backlog first, so that every kill lands while mail is being sent.
            await publishMail(context, stage, count: count, domain: "example.com", seconds: 0)
            for index in 0..<kills {
                try await Task.sleep(for: .milliseconds(400))
                stage.workers[index % 2].crash()
            }
            var verdict = try await stage.verdict(drainTimeout: 300)
            try await judgeMail(&verdict, stage, sink)
            let landed = stage.workers.map { $0.exits.filter { $0 == 128 + SIGKILL || $0 == SIGKILL }.count }.reduce(0, +)
            verdict.notes.append("\(landed) kills, \(verdict.duplicates) tasks started again after a kill")
            if verdict.duplicates == 0 { verdict.problems.append("no task was started twice: the kills did not land while mail was sent") }
            if landed < kills { verdict.problems.append("only \(landed) of \(kills) kills landed") }
            return verdict
        }
    }

    static let emailDomainRefuses = Scenario(name: "email-5xx-domain",
                                             summary: "a domain answering 5xx: every such task dead-lettered (smtp-permanent) on its first attempt") { context in
        try await emailStage(context, label: "mail-5xx", workers: ["mail5-a"]) { stage, sink in
            try sink.setControl(["domains": ["refuse.example": "550 5.7.1 refused by policy"]])
            let count = context.size(quick: 100, full: 500)
            await publishMail(context, stage, count: count, domain: "refuse.example", seconds: 1)
            let refused = Set(await stage.ledger.ok)
            await publishMail(context, stage, count: count, domain: "example.com", seconds: 1)
            var verdict = try await stage.verdict()
            try await judgeMail(&verdict, stage, sink, refused: refused)
            let letters = try await DeadLetterBox(client: stage.client).list(queue: stage.queue, limit: 100_000)
            let permanent = Set(letters.filter { $0.reason == "smtp-permanent" }.compactMap(\.taskId))
            let retries = stage.workers.map { $0.logLines("task retry") }.reduce(0, +)
            verdict.notes.append("\(permanent.intersection(refused).count) of \(refused.count) refused mails dead-lettered smtp-permanent, \(retries) retries")
            if permanent != refused { verdict.problems.append("\(refused.subtracting(permanent).count) refused mails not dead-lettered smtp-permanent") }
            if retries > 0 { verdict.problems.append("\(retries) retries: a 5xx must fail on the first attempt") }
            return verdict
        }
    }

    /// A sink, workers with the email family pointed at it, then `body`; everything stopped after.
    /// `concurrency`, `extra`, `environment` and `restartDelay` go to the workers.
    static func emailStage(_ context: ScenarioContext, label: String, workers: [String], concurrency: Int = 8,
                           extra: [String] = [], environment: [String: String] = [:], restartDelay: Duration = .milliseconds(300),
                           _ body: (Stage, ChaosSMTPSink) async throws -> Verdict) async throws -> Verdict {
        let sink = try ChaosSMTPSink(root: context.infrastructure.root, logs: context.infrastructure.logs, label: label)
        try await sink.start()
        let stage: Stage
        do {
            stage = try await context.stage(label, broker: context.brokerURL(), workers: workers, concurrency: concurrency,
                                            workerExtra: ["--families", "email", "--templates", sink.templates.path] + extra,
                                            workerEnvironment: ["CONVEYOR_SMTP_URL": sink.url, "CONVEYOR_MAIL_FROM": "Chaos <chaos@conveyor.test>"]
                                                .merging(environment) { $1 },
                                            restartDelay: restartDelay)
        } catch {
            await sink.kill()
            throw error
        }
        return try await withCleanup({
            await stage.tearDown()
            await sink.kill()
        }) {
            try await body(stage, sink)
        }
    }

    /// `count` mails to `domain`, spread over `seconds`.
    static func publishMail(_ context: ScenarioContext, _ stage: Stage, count: Int, domain: String, seconds: Double) async {
        let pause = seconds / Double(max(1, count / 50))
        await context.publish(stage.client, ledger: stage.ledger, count: count, task: "email.send",
                              args: [.string("user@\(domain)"), "notice", ["name": "Ada", "repo": "acme/web", "n": 1]], pause: pause)
    }

    /// Every SUCCESS's mail arrived; a Message-ID that arrived twice must have a record counting
    /// a resend after an unknown outcome; refused mails never arrived.
    static func judgeMail(_ verdict: inout Verdict, _ stage: Stage, _ sink: ChaosSMTPSink, refused: Set<String> = []) async throws {
        let ok = await stage.ledger.ok
        let results = try await stage.client.results(for: ok)
        var arrivals: [String: Int] = [:]
        for id in try sink.receivedMessageIDs() { arrivals[id, default: 0] += 1 }
        let messageID = { (id: String) in "<\(id)@conveyor.test>" }
        let sent = results.filter { $0.state == .success }.map(\.id)
        let missing = sent.filter { arrivals[messageID($0)] == nil }
        var twice = 0
        var unexplained = 0
        for id in ok where (arrivals[messageID(id)] ?? 0) > 1 {
            twice += 1
            let record = try await stage.client.keyValues.json("email:sent:" + messageID(id))
            if (record?["resends"]?.int ?? 0) == 0 { unexplained += 1 }
        }
        let arrivedRefused = refused.filter { arrivals[messageID($0)] != nil }.count
        let resends = stage.workers.map { $0.logLines("an earlier attempt's outcome is unknown; sending again with the same Message-ID") }.reduce(0, +)
        let redelivered = stage.workers.map { $0.logLines("mail already sent; returning its recorded outcome") }.reduce(0, +)
        verdict.notes.append("\(sent.count) sent, \(arrivals.values.reduce(0, +)) arrived, \(twice) twice (each after an unknown outcome: \(resends) resends logged), \(redelivered) redeliveries answered from the record")
        if !missing.isEmpty { verdict.problems.append("\(missing.count) SUCCESS mails never arrived, e.g. \(missing[0])") }
        if unexplained > 0 { verdict.problems.append("\(unexplained) mails arrived twice with no unknown outcome recorded") }
        if arrivedRefused > 0 { verdict.problems.append("\(arrivedRefused) refused mails arrived") }
    }
}
