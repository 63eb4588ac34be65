import Foundation
import IOSupport
import TestSupport

/// A temporary repositories root holding `project`: a git repository whose `file.txt` is
/// `first` in its first commit and `second` in its second (branch `main`).
struct TwoCommitRepository {
    let root: URL
    var directory: String { root.appendingPathComponent("project").path }

    init(first: String, second: String) async throws {
        root = FileManager.default.temporaryDirectory.appendingPathComponent("conveyor-interop-repos-\(UUID().uuidString)")
            .resolvingSymlinksInPath()
        let repo = root.appendingPathComponent("project")
        try FileManager.default.createDirectory(at: repo, withIntermediateDirectories: true)
        try await Self.git(["init", "-q", "-b", "main"], in: repo.path)
        try Data(first.utf8).write(to: repo.appendingPathComponent("file.txt"))
        try await Self.git(["add", "-A"], in: repo.path)
        try await Self.git(["commit", "-q", "-m", "one"], in: repo.path)
        try Data(second.utf8).write(to: repo.appendingPathComponent("file.txt"))
        try await Self.git(["commit", "-q", "-a", "-m", "two"], in: repo.path)
    }

    func remove() { try? FileManager.default.removeItem(at: root) }

    /// The commit id `revision` names.
    func commit(_ revision: String) async throws -> String {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("git-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: file) }
        let child = try Subprocess.spawn("/usr/bin/git", ["-C", directory, "rev-parse", revision], environment: Self.environment(directory),
                                         standardOutput: .file(file), closeOtherDescriptors: true)
        guard await child.wait() == 0 else { throw PythonFailed("git rev-parse \(revision) failed") }
        return try String(contentsOfFile: file, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    private static func environment(_ directory: String) -> [String: String] {
        ["PATH": "/usr/bin:/bin", "HOME": directory, "GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": "/dev/null",
         "GIT_AUTHOR_NAME": "T", "GIT_AUTHOR_EMAIL": "t@example.com", "GIT_COMMITTER_NAME": "T", "GIT_COMMITTER_EMAIL": "t@example.com"]
    }

    private static func git(_ arguments: [String], in directory: String) async throws {
        let child = try Subprocess.spawn("/usr/bin/git", ["-C", directory] + arguments, environment: environment(directory),
                                         closeOtherDescriptors: true)
        let status = await child.wait()
        guard status == 0 else { throw PythonFailed("git \(arguments.joined(separator: " ")) exited \(status)") }
    }
}
