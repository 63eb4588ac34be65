import Conveyor
import Foundation
import IOSupport
#if canImport(Glibc)
import Glibc
#endif

/// Section 7: `email.send` drained by one worker into the project's SMTP sink (one sink for the
/// whole section, on a port of its own), Conveyor's worker against a Celery task that sends the
/// same mail Django-style (`smtplib`, a connection per message), in the same run.
struct EmailSection {
    let bench: BenchContext

    static let conveyorConcurrency = 16
    static let celeryConcurrency = 2

    static func plan(_ sizes: BenchSizes) -> [Row] {
        [
            Row(key: "email.conveyor", section: "email", label: "email.send, Conveyor worker, --concurrency \(conveyorConcurrency)",
                unit: .tasksPerSecond, count: count(sizes), celery: "email.celery",
                note: "templates + MIME + libcurl SMTP, 8 reused connections, sent records in Redis; goal >= 800/s"),
            Row(key: "email.celery", section: "email", label: "email.send, Celery prefork -c \(celeryConcurrency), smtplib",
                unit: .tasksPerSecond, count: celeryCount(sizes), note: "same mail; a connection per message, as Django's send_mail"),
            Row(key: "email.redelivered", section: "email", label: "email.send delivered again after its mail was recorded sent",
                unit: .tasksPerSecond, count: redeliveryCount(sizes),
                note: "the state a crash between the sent record and the ack leaves; must send nothing"),
        ]
    }

    static func count(_ sizes: BenchSizes) -> Int { sizes.endToEndCount >= 10_000 ? 5_000 : 200 }
    static func celeryCount(_ sizes: BenchSizes) -> Int { sizes.endToEndCount >= 10_000 ? 1_000 : 100 }
    static func redeliveryCount(_ sizes: BenchSizes) -> Int { sizes.endToEndCount >= 10_000 ? 1_000 : 100 }

    func run() async {
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("conveyor-bench-email-\(getpid())")
        defer { try? FileManager.default.removeItem(at: scratch) }
        let sink: BenchProcess
        let port: Int
        do {
            try FileManager.default.createDirectory(at: scratch.appendingPathComponent("templates"), withIntermediateDirectories: true)
            for (name, text) in Self.templates { try Data(text.utf8).write(to: scratch.appendingPathComponent("templates/\(name)")) }
            port = try Self.freePort()
            sink = try BenchProcess(name: "smtp-sink", executable: "/usr/bin/python3",
                                    arguments: [bench.paths.library.appendingPathComponent("smtp_sink.py").path, "--port", "\(port)",
                                                "--mailbox", scratch.appendingPathComponent("mailbox.jsonl").path],
                                    log: bench.log("email-sink"))
            _ = try await sink.waitForLine(containing: "listening on", timeout: 30)
        } catch {
            for row in Self.plan(bench.sizes) { bench.report.fail(row.key, error) }
            return
        }
        let environment = ["CONVEYOR_SMTP_URL": "smtp://127.0.0.1:\(port)", "CONVEYOR_MAIL_FROM": "Bench <bench@conveyor.test>",
                           "BENCH_TEMPLATES": scratch.appendingPathComponent("templates").path]
        let conveyor = { (queue: String, label: String) in
            try BenchProcess(name: label, executable: bench.paths.worker.path,
                             arguments: ["--queues", queue, "--concurrency", "\(Self.conveyorConcurrency)", "--hostname",
                                         bench.workerName("conveyor"), "--families", "email", "--templates",
                                         scratch.appendingPathComponent("templates").path, "--no-diagnostics"],
                             environment: environment, log: bench.log(label))
        }
        for repetition in 1...bench.sizes.repetitions {
            await bench.measure("email.conveyor") {
                try await drain(count: Self.count(bench.sizes), label: "email-conveyor-\(repetition)", start: conveyor)
            }
            await bench.measure("email.celery") {
                try await drain(count: Self.celeryCount(bench.sizes), label: "email-celery-\(repetition)") { queue, label in
                    try BenchProcess(name: label, executable: bench.paths.python.path,
                                     arguments: ["-m", "celery", "-A", "bench_celery", "worker", "-P", "prefork", "-c", "\(Self.celeryConcurrency)",
                                                 "-Q", queue, "-n", bench.workerName("celery"), "--without-mingle", "--without-gossip",
                                                 "--loglevel", "INFO"],
                                     environment: bench.pythonEnvironment.merging(environment) { $1 }, log: bench.log(label))
                }
            }
        }
        await bench.measure("email.redelivered") {
            try await redeliveries(mailbox: scratch.appendingPathComponent("mailbox.jsonl"), start: conveyor)
        }
        await sink.stop(grace: 5)
    }

    /// Sends `redeliveryCount` mails with ids of their own, then delivers the very same tasks
    /// again (results forgotten, sent records kept: what a worker killed after the record and
    /// before the ack leaves behind); the second pass must add nothing to the mailbox.
    /// - Returns: the second pass's rate.
    private func redeliveries(mailbox: URL, start: (String, String) throws -> BenchProcess) async throws -> Double {
        let ids = (0..<Self.redeliveryCount(bench.sizes)).map { _ in UUID().uuidString.lowercased() }
        _ = try await drain(count: ids.count, label: "email-redelivery-first", ids: ids, start: start)
        let before = try Self.lines(mailbox)
        let rate = try await drain(count: ids.count, label: "email-redelivery-again", ids: ids, start: start)
        let added = try Self.lines(mailbox) - before
        guard added == 0 else { throw BenchError("\(added) of \(ids.count) mails delivered again were sent again") }
        bench.report.annotate("email.redelivered", "0 of \(ids.count) sent again")
        return rate
    }

    private static func lines(_ file: URL) throws -> Int {
        try String(contentsOf: file, encoding: .utf8).split(separator: "\n").count
    }

    /// Queues `count` mails, starts the worker `start` makes, and returns mails per second from
    /// its ready line to the last result's `date_done`.
    private func drain(count: Int, label: String, ids given: [String]? = nil,
                       start: (String, String) throws -> BenchProcess) async throws -> Double {
        try await bench.withQueue("email") { queue in
            var ids: [String] = []
            for first in stride(from: 0, to: count, by: 1_000) {
                let requests = (first..<min(first + 1_000, count)).map { index in
                    ConveyorClient.Request(name: "email.send", args: [.string("user\(index % 50)@example.com"), "notice",
                                                                      ["name": "Ada", "repo": "acme/web", "n": .int(Int64(index))]],
                                           options: TaskOptions(queue: queue, taskId: given?[index]))
                }
                for outcome in await bench.client.send(batch: requests) { ids.append(try outcome.get().id) }
            }
            bench.track(ids)
            let worker = try start(queue, label)
            do {
                let ready = try await worker.waitForLine(containing: label.contains("celery") ? " ready." : "worker ready", timeout: 60)
                let done = try await bench.waitForResults(ids, timeout: 600)
                await worker.stop()
                await bench.deleteResults(ids)
                let seconds = done.upperBound.timeIntervalSince(min(ready.wall, done.lowerBound))
                guard seconds > 0 else { throw BenchError("all \(count) results carry the same date_done") }
                return Double(count) / seconds
            } catch {
                await worker.stop(grace: 5)
                await bench.deleteResults(ids)
                throw error
            }
        }
    }

    /// A port the kernel just called free on 127.0.0.1 (bound to 0, named, released).
    static func freePort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw BenchError("socket() failed: errno \(errno)") }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let named = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { pointer in
                bind(fd, pointer, length) == 0 && getsockname(fd, pointer, &length) == 0
            }
        }
        guard named else { throw BenchError("no free port: errno \(errno)") }
        return Int(UInt16(bigEndian: address.sin_port))
    }

    /// The mail both sides send: subject, text and HTML.
    static let templates = [
        "notice.subject.mustache": "Your repository {{repo}} was indexed",
        "notice.txt.mustache": "Hello {{name}},\n\nYour repository {{repo}} was indexed (run {{n}}).\n\n-- \nThe code host\n",
        "notice.html.mustache": "<p>Hello {{name}},</p>\n<p>Your repository <b>{{repo}}</b> was indexed (run {{n}}).</p>\n",
    ]
}
