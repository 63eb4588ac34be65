import Conveyor
import Email
import Foundation
import Testing
import TestSupport
#if canImport(Glibc)
import Glibc
#endif

/// The fault-test hook `CONVEYOR_EMAIL_CRASH`: `conveyor-worker` takes it only with
/// `--allow-crash`, and then really dies between the server's 250 and the `sent` record, or
/// between that record and the ack; the redelivery to a restarted worker keeps "never sent twice".
@Suite("email.send: crashes around the sent record")
struct CrashHookTests {
    @Test("the hook's setting is checked: windows, probabilities in (0, 1], each window once")
    func parsing() throws {
        let hook = try EmailCrashHook(parsing: "after-record:1,after-reply:0.25")
        #expect(hook.probabilities == [.afterRecord: 1, .afterReply: 0.25])
        #expect(hook.description == "after-reply:0.25,after-record:1.0")
        for bad in ["", "after-record", "after-record:0", "after-record:1.5", "after-record:-1", "after-record:nan", "before-dot:1",
                    "after-record:1,after-record:0.5", "after-record:1,"] {
            #expect(throws: EmailError.self, "\(bad)") { try EmailCrashHook(parsing: bad) }
        }
    }

    /// A `conveyor-worker` with the email family on `queue`, pointed at `sink`.
    private static func worker(_ queue: String, _ sink: PrivateSink, templates: URL, extra: [String] = [],
                               hook: String) throws -> ManagedProcess {
        let environment = ["CONVEYOR_BROKER_URL": TestEnvironment.brokerURL, "CONVEYOR_RESULT_URL": TestEnvironment.resultURL,
                           "CONVEYOR_SMTP_URL": sink.url, "CONVEYOR_MAIL_FROM": "Crash <crash@conveyor.test>",
                           EmailCrashHook.environmentVariable: hook]
        return try ManagedProcess(try TestEnvironment.requireBinary("conveyor-worker"),
                                  ["--queues", queue, "--families", "email", "--templates", templates.path, "--concurrency", "1", "--prefetch", "1"] + extra,
                                  environment: environment, name: "mail-crash-worker")
    }

    private static func templates() throws -> URL {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("conveyor-templates-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        for (name, text) in EmailHarness.welcome { try Data(text.utf8).write(to: directory.appendingPathComponent(name)) }
        return directory
    }

    @Test("without --allow-crash the worker refuses to start with the hook set")
    func needsAllowCrash() async throws {
        try TestEnvironment.requireServices()
        let sink = try await PrivateSink()
        let templates = try Self.templates()
        defer { try? FileManager.default.removeItem(at: templates) }
        let worker = try Self.worker(TestEnvironment.uniqueQueue("mail-nocrash"), sink, templates: templates, hook: "after-record:1")
        let status = try await worker.waitForExit(timeout: hangGuard)
        #expect(status == 2)
        #expect(worker.log.contains("CONVEYOR_EMAIL_CRASH is a fault-test hook: it needs --allow-crash"), "\(worker.log)")
    }

    @Test("the worker dies at the window; restarted, the redelivery keeps never-sent-twice (after the record) or resends once, counted (after the 250)",
          arguments: [EmailCrashHook.Window.afterRecord, .afterReply])
    func crashAndRedeliver(window: EmailCrashHook.Window) async throws {
        try TestEnvironment.requireServices()
        let sink = try await PrivateSink()
        let templates = try Self.templates()
        defer { try? FileManager.default.removeItem(at: templates) }
        let queue = TestEnvironment.uniqueQueue("mail-crash")
        let first = try Self.worker(queue, sink, templates: templates, extra: ["--allow-crash"], hook: "\(window.rawValue):1")
        defer { if first.isRunning { first.signal(SIGKILL) } }
        try await first.waitForLog("worker ready", timeout: hangGuard)
        let client = try testClient(queue: queue)
        let handle = try await client.send(taskNamed: EmailJobs.send, kwargs: ["to": "crash@example.com", "template": "plain", "context": ["n": 3]],
                                           options: TaskOptions())
        let crashed = try await first.waitForExit(timeout: hangGuard)
        let messageID = "<\(handle.id)@conveyor.test>"
        let recordAtCrash = try await client.keyValues.json("email:sent:" + messageID)
        // The same hook again: a redelivery never crashes, the resend of an unknown outcome neither.
        let second = try Self.worker(queue, sink, templates: templates, extra: ["--allow-crash"], hook: "\(window.rawValue):1")
        defer { if second.isRunning { second.signal(SIGKILL) } }
        let result = try await handle.get(timeout: hangGuard)
        let received = try await sink.waitForMessages(window == .afterRecord ? 1 : 2)
        let record = try await client.keyValues.json("email:sent:" + messageID)
        second.signal(SIGTERM)
        _ = try await second.waitForExit(timeout: hangGuard)
        await client.close()
        #expect(crashed == EmailCrashHook.exitStatus)
        #expect(first.log.contains(window.logMessage), "\(first.log)")
        #expect(result["message_id"]?.string == messageID)
        let ids = received.map { $0["data"]?.string?.split(separator: "\r\n").first { $0.hasPrefix("Message-ID: ") }.map(String.init) }
        switch window {
        case .afterRecord:
            #expect(recordAtCrash?["state"] == "sent" && recordAtCrash?["resends"] == 0, "\(recordAtCrash?.text() ?? "nil")")
            #expect(ids == ["Message-ID: \(messageID)"])
            #expect(second.log.contains("mail already sent; returning its recorded outcome"), "\(second.log)")
        case .afterReply:
            #expect(recordAtCrash?["state"] == "sending", "\(recordAtCrash?.text() ?? "nil")")
            #expect(ids == Array(repeating: "Message-ID: \(messageID)", count: 2))
            #expect(record?["state"] == "sent" && record?["resends"] == 1, "\(record?.text() ?? "nil")")
            #expect(second.log.contains("an earlier attempt's outcome is unknown; sending again with the same Message-ID"), "\(second.log)")
        }
    }
}
