import Foundation
import IOSupport
#if canImport(Glibc)
import Glibc
#endif

/// git run by the tests themselves (the reference the family is checked against), with the same
/// clean configuration the family uses: no system or user config.
enum GitCommand {
    static let home: String = {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("conveyor-test-git-home-\(getpid())")
        try? FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        return directory.path
    }()

    static var environment: [String: String] {
        [
            "PATH": "/usr/bin:/bin", "HOME": home, "GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": "/dev/null", "LC_ALL": "C",
            "GIT_AUTHOR_NAME": "Test", "GIT_AUTHOR_EMAIL": "test@example.com", "GIT_AUTHOR_DATE": "2026-01-01T00:00:00Z",
            "GIT_COMMITTER_NAME": "Test", "GIT_COMMITTER_EMAIL": "test@example.com", "GIT_COMMITTER_DATE": "2026-01-01T00:00:00Z",
        ]
    }

    struct Failed: Error, CustomStringConvertible {
        let description: String
    }

    /// Runs `git -C directory arguments`; returns standard output, throws with standard error on a non-zero exit.
    @discardableResult
    static func run(_ arguments: [String], in directory: String) async throws -> [UInt8] {
        try await run(arguments, in: directory, accepting: [0])
    }

    /// Runs git; an exit status in `accepting` counts as success (`git grep` exits 1 when nothing matched).
    static func run(_ arguments: [String], in directory: String, accepting: Set<Int32>) async throws -> [UInt8] {
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("git-out-\(UUID().uuidString)")
        let out = scratch.path + ".out"
        let err = scratch.path + ".err"
        defer {
            try? FileManager.default.removeItem(atPath: out)
            try? FileManager.default.removeItem(atPath: err)
        }
        let child = try Subprocess.spawn("/usr/bin/git", ["-C", directory] + arguments, environment: environment,
                                         standardOutput: .file(out), standardError: .file(err), closeOtherDescriptors: true)
        let status = await child.wait()
        let output = (try? Data(contentsOf: URL(fileURLWithPath: out))).map { [UInt8]($0) } ?? []
        guard accepting.contains(status) else {
            let said = (try? String(contentsOfFile: err, encoding: .utf8)) ?? ""
            throw Failed(description: "git \(arguments.joined(separator: " ")) exited \(status): \(said)")
        }
        return output
    }

    static func text(_ arguments: [String], in directory: String) async throws -> String {
        String(decoding: try await run(arguments, in: directory), as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
    }
}

/// Writes an executable script from a child shell, so no descriptor of it is ever open in this
/// process: another test's child started meanwhile cannot inherit it and make exec fail with
/// "text file busy".
func writeExecutable(_ path: String, _ text: String) async throws {
    let child = try Subprocess.spawn("/bin/sh", ["-c", "printf '%s' \"$1\" > \"$2\" && chmod 755 \"$2\"", "sh", text, path],
                                     environment: ["PATH": "/usr/bin:/bin"], closeOtherDescriptors: true)
    let status = await child.wait()
    guard status == 0 else { throw GitCommand.Failed(description: "could not write \(path): sh exited \(status)") }
}
