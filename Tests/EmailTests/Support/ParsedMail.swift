import Conveyor
import Foundation
import TestSupport

/// A received message as Python's `email` package reads it (`python/parse_mail.py`): an
/// independent parser checks the MIME the family writes.
enum ParsedMail {
    static func parse(_ raw: String) async throws -> JSON {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("conveyor-mail-\(UUID().uuidString).eml")
        try Data(raw.utf8).write(to: file)
        defer { try? FileManager.default.removeItem(at: file) }
        let script = TestEnvironment.repoRoot.appendingPathComponent("Tests/EmailTests/python/parse_mail.py").path
        let process = try ManagedProcess(URL(fileURLWithPath: TestEnvironment.python), [script, file.path], name: "parse_mail")
        let status = try await process.waitForExit(timeout: hangGuard)
        guard status == 0, let line = process.log.split(separator: "\n").last else { throw PythonFailed("parse_mail.py: \(process.log)") }
        return try JSON.parse(String(line))
    }

    /// A decoded text part's body with CRLF line breaks (canonical text on the wire) as LF.
    static func body(_ mail: JSON, part: Int) -> String? {
        mail["parts"]?[part]?["body"]?.string?.replacingOccurrences(of: "\r\n", with: "\n")
    }
}
