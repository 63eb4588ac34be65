import Conveyor
import Foundation
#if canImport(Glibc)
import Glibc
#endif
import TestSupport

/// The project's SMTP sink (`ops/lib/smtp_sink.py`) on a free port of its own, with its own
/// mailbox and control file, so a test can read exactly the mail it caused and choose replies.
final class PrivateSink: Sendable {
    let port: Int
    let directory: URL
    let process: ManagedProcess
    var mailbox: URL { directory.appendingPathComponent("mailbox.jsonl") }
    var control: URL { directory.appendingPathComponent("control.json") }
    var url: String { "smtp://127.0.0.1:\(port)" }

    /// - Parameter arguments: more of the sink's options (`--tls-cert`, `--tls-key`, `--tls`).
    init(arguments: [String] = []) async throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("conveyor-sink-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        // A port called free can be taken before the sink binds it (by another test, or as the
        // local port of an outgoing connection): then another port is tried.
        var attempt = 0
        while true {
            attempt += 1
            let port = try SentinelSet.freePorts(1)[0]
            let process = try ManagedProcess(URL(fileURLWithPath: "/usr/bin/python3"),
                                             [TestEnvironment.repoRoot.appendingPathComponent("ops/lib/smtp_sink.py").path, "--port", "\(port)",
                                              "--mailbox", directory.appendingPathComponent("mailbox.jsonl").path,
                                              "--control", directory.appendingPathComponent("control.json").path] + arguments,
                                             name: "smtp-sink")
            do {
                try await process.waitForLog("listening on", timeout: hangGuard)
                self.port = port
                self.process = process
                return
            } catch where attempt < 5 && process.log.contains("address already in use") {
                continue
            }
        }
    }

    deinit {
        if process.isRunning { process.signal(SIGKILL) }
        try? FileManager.default.removeItem(at: directory)
    }

    /// The messages received so far: `mail_from`, `rcpt_tos`, `data`.
    func messages() throws -> [JSON] {
        guard let text = try? String(contentsOf: mailbox, encoding: .utf8) else { return [] }
        return try text.split(separator: "\n").map { try JSON.parse(String($0)) }
    }

    /// Waits until `count` messages have arrived, and returns them.
    func waitForMessages(_ count: Int) async throws -> [JSON] {
        try await eventually(timeout: hangGuard, "\(count) messages at the sink") { try messages().count >= count }
        return try messages()
    }

    /// Sets the replies for chosen recipients (`{"addresses": {...}, "domains": {...}}`).
    func setControl(_ replies: JSON) throws {
        let temporary = directory.appendingPathComponent("control.tmp")
        try Data(replies.serialized(.compact)).write(to: temporary)
        // rename(2): the sink sees the old file or the new one, never half of one.
        guard rename(temporary.path, control.path) == 0 else { throw MissingService("rename to \(control.path) failed: errno \(errno)") }
    }
}
