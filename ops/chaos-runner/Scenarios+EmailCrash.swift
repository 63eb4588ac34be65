import Conveyor
import Email
import Foundation

/// The email family's fault-test hook (`CONVEYOR_EMAIL_CRASH`, with `--allow-crash`): workers
/// that `_exit` exactly between the `sent` record and the ack, or between the server's 250 and
/// that record, restarted by the supervisor at once each time.
extension Scenarios {
    /// Crashes wanted after the `sent` record: 1,000 in the full run, 100 in `--quick` (ops/test).
    static func emailCrashTarget(_ context: ScenarioContext) -> Int { context.size(quick: 100, full: 1000) }
    /// The hook: about one mail in ten dies in the narrow window, every other one after its record.
    static let emailCrashHook = "after-reply:0.1,after-record:1"

    static let emailCrashWindows = Scenario(name: "email-crash-window",
                                            summary: "1,000 (quick: 100) worker crashes between the sent record and the ack: no duplicate; crashes between the 250 and the record resend the same Message-ID, counted") { context in
        // One mail at a time per worker, so that each crash interrupts exactly one mail. No domain
        // cap: a crashed worker's slot would stay taken until its 20 s lease ends, deferring the rest.
        try await emailStage(context, label: "mail-crash", workers: ["mailx-a", "mailx-b"], concurrency: 1,
                             extra: ["--allow-crash", "--prefetch", "1", "--email-domain-limit", "example.com="], environment: [EmailCrashHook.environmentVariable: emailCrashHook],
                             restartDelay: .zero) { stage, sink in
            let target = emailCrashTarget(context)
            let started = Date()
            var afterRecord = 0
            var rounds = 0
            var verdict = Verdict()
            // Every first sending crashes once; rounds top up until the target is reached (bounded).
            while afterRecord < target, rounds < 4, Date().timeIntervalSince(started) < 1500 {
                rounds += 1
                let count = target - afterRecord + (rounds == 1 ? target / 9 : 10)
                await publishMail(context, stage, count: count, domain: "example.com", seconds: 0)
                verdict = try await stage.verdict(drainTimeout: 1200)
                afterRecord = crashLines(stage, .afterRecord).count
            }
            try await judgeMail(&verdict, stage, sink)
            try judgeCrashes(&verdict, stage, sink, target: target, rounds: rounds, seconds: Date().timeIntervalSince(started))
            return verdict
        }
    }

    /// Message-IDs the hook crashed on in `window`, from the workers' logs (one per crash).
    private static func crashLines(_ stage: Stage, _ window: EmailCrashHook.Window) -> [String] {
        var ids: [String] = []
        for file in stage.workers.flatMap(\.logFiles) {
            let text = (try? String(contentsOf: file, encoding: .utf8)) ?? ""
            for line in text.split(separator: "\n") where line.contains("msg=\"\(window.logMessage)\"") {
                // message_id=<ID@conveyor.test> (logfmt leaves it unquoted: no space, quote or '=').
                guard let start = line.range(of: "message_id=")?.upperBound, let end = line[start...].firstIndex(of: ">") else { continue }
                ids.append(String(line[start...end]).replacingOccurrences(of: "\"", with: ""))
            }
        }
        return ids
    }

    /// Crashes counted by window and exit status; no mail crashed after its record arrived twice;
    /// each crash before the record resent its mail once, with the same Message-ID.
    private static func judgeCrashes(_ verdict: inout Verdict, _ stage: Stage, _ sink: ChaosSMTPSink, target: Int, rounds: Int,
                                     seconds: Double) throws {
        var arrivals: [String: Int] = [:]
        for id in try sink.receivedMessageIDs() { arrivals[id, default: 0] += 1 }
        let afterRecord = crashLines(stage, .afterRecord)
        let afterReply = crashLines(stage, .afterReply)
        let exits = stage.workers.map { $0.exits.filter { $0 == EmailCrashHook.exitStatus }.count }.reduce(0, +)
        let duplicates = afterRecord.filter { (arrivals[$0] ?? 0) > 1 }.count
        let resent = afterReply.filter { arrivals[$0] == 2 }.count
        let resends = stage.workers.map { $0.logLines("an earlier attempt's outcome is unknown; sending again with the same Message-ID") }.reduce(0, +)
        let answered = stage.workers.map { $0.logLines("mail already sent; returning its recorded outcome") }.reduce(0, +)
        verdict.notes.append("\(afterRecord.count + afterReply.count) crashes injected (\(exits) exits \(EmailCrashHook.exitStatus)) in \(rounds) rounds, "
            + "\(String(format: "%.0f", seconds)) s: \(afterRecord.count) after the sent record -> \(duplicates) duplicates, "
            + "\(answered) redeliveries answered from the record; \(afterReply.count) between the 250 and the record -> "
            + "\(resends) resends counted, \(resent) of those mails arrived exactly twice")
        if afterRecord.count < target { verdict.problems.append("only \(afterRecord.count) of \(target) crashes after the record") }
        if duplicates > 0 { verdict.problems.append("\(duplicates) mails crashed after their sent record arrived twice") }
        if exits != afterRecord.count + afterReply.count { verdict.problems.append("\(exits) exits \(EmailCrashHook.exitStatus) for \(afterRecord.count + afterReply.count) crash lines") }
        if resent != afterReply.count || resends < afterReply.count {
            verdict.problems.append("\(afterReply.count) crashes before the record, \(resent) of their mails arrived twice, \(resends) resends counted")
        }
    }
}
