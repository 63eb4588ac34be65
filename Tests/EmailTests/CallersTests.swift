import Conveyor
import Email
import Foundation
import Testing
import TestSupport
#if canImport(Glibc)
import Glibc
#endif

/// `email.send` from the other callers: Python Celery by name, and `conveyor call` against the
/// `conveyor-worker` daemon started with `--families email --templates`.
@Suite("email.send from Celery and the command line")
struct CallersTests {
    @Test("Celery's send_task('email.send') with kwargs or positional arguments gets the outcome; header injection raises")
    func pythonCelery() async throws {
        try TestEnvironment.requirePython()
        let harness = try await EmailHarness(label: "mail-py")
        let output: String
        do {
            output = try await PythonScript.run("call_email.py", [harness.worker.queue],
                                                environment: ["PYTHONPATH": TestEnvironment.repoRoot.appendingPathComponent("Tests/InteropTests/python").path],
                                                timeout: hangGuard)
        } catch {
            try? await harness.stop()
            throw error
        }
        let received = try await harness.sink.waitForMessages(2)
        try await harness.stop()
        let line = try #require(output.split(separator: "\n").last { $0.hasPrefix("RESULT ") })
        let result = try JSON.parse(String(line.dropFirst("RESULT ".count)))
        let id = try #require(result["kwargs_id"]?.string)
        #expect(result["kwargs"]?["message_id"]?.string == "<\(id)@conveyor.test>")
        #expect(result["kwargs"]?["accepted"] == ["ada@example.com"])
        #expect(result["kwargs"]?["rejected"]?["rcpt-550-gone@example.com"]?.string?.hasPrefix("550") == true)
        #expect(result["positional"]?["accepted"] == ["bob@example.org"])
        #expect(result["bad"]?["raised"] == true)
        #expect(result["bad"]?["state"] == "FAILURE")
        #expect(result["bad"]?["message"]?.string?.contains("header injection") == true, "\(result["bad"]?.text() ?? "nil")")
        #expect(received.count == 2)
        #expect(received.contains { $0["data"]?.string?.contains("Subject: Hello from Celery\r\n") == true })
    }

    @Test("conveyor call email.send --wait through conveyor-worker --families email prints the outcome; libcurl is mapped only once a mail is sent")
    func daemonAndCommandLine() async throws {
        try TestEnvironment.requireServices()
        let sink = try await PrivateSink()
        let templates = FileManager.default.temporaryDirectory.appendingPathComponent("conveyor-templates-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: templates, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: templates) }
        for (name, text) in EmailHarness.welcome { try Data(text.utf8).write(to: templates.appendingPathComponent(name)) }
        let queue = TestEnvironment.uniqueQueue("mail-cli")
        let environment = ["CONVEYOR_BROKER_URL": TestEnvironment.brokerURL, "CONVEYOR_RESULT_URL": TestEnvironment.resultURL,
                           "CONVEYOR_SMTP_URL": sink.url, "CONVEYOR_MAIL_FROM": "Code Host <git@conveyor.test>"]
        let worker = try ManagedProcess(try TestEnvironment.requireBinary("conveyor-worker"),
                                        ["--queues", queue, "--families", "email", "--templates", templates.path],
                                        environment: environment, name: "mail-worker")
        defer { if worker.isRunning { worker.signal(SIGKILL) } }
        try await worker.waitForLog("worker ready", timeout: hangGuard)
        #expect(worker.log.contains("registered the email family"))
        // libcurl (and the TLS stack it brings) is loaded at the first mail, not at start.
        #expect(try !Self.mapsLibcurl(worker.pid), "a worker that has sent no mail maps libcurl")
        let call = try ManagedProcess(try TestEnvironment.requireBinary("conveyor"),
                                      ["call", "email.send", "--kwargs", #"{"to": "dev@example.com", "template": "welcome", "context": {"name": "Dev", "repo": "acme/api"}}"#,
                                       "--queue", queue, "--wait", "--timeout", "\(hangGuard)", "--json"],
                                      environment: environment, name: "mail-call")
        let status = try await call.waitForExit(timeout: hangGuard)
        let received = try await sink.waitForMessages(1)
        let mappedAfterSending = try Self.mapsLibcurl(worker.pid)
        worker.signal(SIGTERM)
        _ = try await worker.waitForExit(timeout: hangGuard)
        #expect(status == 0, "\(call.log)")
        #expect(call.log.contains("dev@example.com"), "\(call.log)")
        #expect(received[0]["mail_from"] == "git@conveyor.test")
        #expect(received[0]["data"]?.string?.contains("From: Code Host <git@conveyor.test>\r\n") == true)
        #expect(mappedAfterSending, "the worker sent a mail without libcurl mapped")
    }

    /// Whether the process maps libcurl, from /proc/PID/maps (read to its end: Foundation's
    /// `String(contentsOfFile:)` stops after the first 4 KB of a /proc file).
    private static func mapsLibcurl(_ pid: Int32) throws -> Bool {
        let file = try #require(FileHandle(forReadingAtPath: "/proc/\(pid)/maps"), "no process \(pid)")
        defer { try? file.close() }
        return String(decoding: file.readDataToEndOfFile(), as: UTF8.self).contains("/libcurl.so")
    }
}
