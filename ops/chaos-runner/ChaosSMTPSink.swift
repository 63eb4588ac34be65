import Conveyor
import Foundation
import IOSupport
#if canImport(Glibc)
import Glibc
#endif

/// The project's SMTP sink (`ops/lib/smtp_sink.py`) on the chaos port, with a mailbox and a
/// control file of the run's own, killed and started again by the email scenarios; and a
/// templates directory for the workers.
final class ChaosSMTPSink: @unchecked Sendable {
    static let port = 2591
    let directory: URL
    let root: URL
    private var child: Subprocess.Child?
    var mailbox: URL { directory.appendingPathComponent("mailbox.jsonl") }
    var control: URL { directory.appendingPathComponent("control.json") }
    var templates: URL { directory.appendingPathComponent("templates") }
    var url: String { "smtp://127.0.0.1:\(Self.port)" }

    init(root: URL, logs: URL, label: String) throws {
        self.root = root
        directory = logs.appendingPathComponent("smtp-\(label)")
        try? FileManager.default.removeItem(at: directory)
        try FileManager.default.createDirectory(at: templates, withIntermediateDirectories: true)
        for (name, text) in ["notice.subject.mustache": "Your repository {{repo}} was indexed",
                             "notice.txt.mustache": "Hello {{name}},\n\n{{repo}} was indexed ({{n}}).\n",
                             "notice.html.mustache": "<p>Hello {{name}}, <b>{{repo}}</b> was indexed ({{n}}).</p>\n"] {
            try Data(text.utf8).write(to: templates.appendingPathComponent(name))
        }
    }

    /// Starts the sink and returns once it listens.
    func start() async throws {
        let log = directory.appendingPathComponent("sink.log")
        let started = try Subprocess.spawn("/usr/bin/python3", [root.appendingPathComponent("ops/lib/smtp_sink.py").path, "--port", "\(Self.port)",
                                                                "--mailbox", mailbox.path, "--control", control.path],
                                           standardOutput: .file(log.path), standardError: .file(log.path))
        child = started
        let deadline = Date().addingTimeInterval(30)
        while Date() < deadline {
            let text = (try? String(contentsOf: log, encoding: .utf8)) ?? ""
            if text.components(separatedBy: "listening on").count - 1 >= 1, text.hasSuffix("\n"), listening() { return }
            try await Task.sleep(for: .milliseconds(50))
        }
        throw ChaosError("the SMTP sink did not listen on \(Self.port); see \(log.path)")
    }

    /// kill -9: the server goes away mid-conversation.
    func kill() async {
        guard let child else { return }
        child.signal(SIGKILL)
        _ = await child.wait()
        self.child = nil
    }

    /// Whether something accepts connections on the port.
    private func listening() -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(Self.port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        } == 0
    }

    /// Sets replies for chosen recipients or domains (`{"domains": {...}}`), atomically.
    func setControl(_ replies: JSON) throws {
        let temporary = directory.appendingPathComponent("control.tmp")
        try Data(replies.serialized(.compact)).write(to: temporary)
        guard rename(temporary.path, control.path) == 0 else { throw ChaosError("cannot write \(control.path)") }
    }

    /// Message-IDs of every received message, in order (one per message).
    func receivedMessageIDs() throws -> [String] {
        guard let text = try? String(contentsOf: mailbox, encoding: .utf8) else { return [] }
        return try text.split(separator: "\n").map { line in
            let data = try JSON.parse(String(line))["data"]?.string ?? ""
            let header = data.components(separatedBy: "\r\n").first { $0.hasPrefix("Message-ID: ") } ?? ""
            return String(header.dropFirst("Message-ID: ".count))
        }
    }
}
