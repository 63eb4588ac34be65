import Foundation
import Repositories

/// A temporary repositories root with git repositories built by the test.
final class FixtureRoot: Sendable {
    let path: String

    init() throws {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("conveyor-repos-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        path = url.resolvingSymlinksInPath().path
    }

    deinit { try? FileManager.default.removeItem(atPath: path) }

    /// A new empty non-bare repository at `name`.
    func makeRepository(_ name: String) async throws -> FixtureRepository {
        let directory = path + "/" + name
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        try await GitCommand.run(["init", "-q", "-b", "main"], in: directory)
        return FixtureRepository(directory: directory)
    }

    func pool(timeout: Double = 60) throws -> RepositoryPool {
        RepositoryPool(root: try RepositoryRoot(path), environment: try GitEnvironment(), timeout: timeout)
    }
}

/// One repository in a `FixtureRoot`, changed file by file and committed.
struct FixtureRepository: Sendable {
    let directory: String

    func write(_ path: String, _ bytes: [UInt8], executable: Bool = false) throws {
        let url = URL(fileURLWithPath: directory).appendingPathComponent(path)
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try Data(bytes).write(to: url)
        try FileManager.default.setAttributes([.posixPermissions: executable ? 0o755 : 0o644], ofItemAtPath: url.path)
    }

    func write(_ path: String, _ text: String, executable: Bool = false) throws {
        try write(path, Array(text.utf8), executable: executable)
    }

    func remove(_ path: String) throws {
        try FileManager.default.removeItem(atPath: directory + "/" + path)
    }

    func symlink(_ path: String, to target: String) throws {
        try FileManager.default.createSymbolicLink(atPath: directory + "/" + path, withDestinationPath: target)
    }

    func move(_ from: String, _ to: String) throws {
        let destination = URL(fileURLWithPath: directory).appendingPathComponent(to)
        try FileManager.default.createDirectory(at: destination.deletingLastPathComponent(), withIntermediateDirectories: true)
        try FileManager.default.moveItem(atPath: directory + "/" + from, toPath: destination.path)
    }

    /// Commits everything; returns the commit id.
    @discardableResult
    func commit(_ message: String) async throws -> String {
        try await GitCommand.run(["add", "-A"], in: directory)
        try await GitCommand.run(["commit", "-q", "--allow-empty", "-m", message], in: directory)
        return try await GitCommand.text(["rev-parse", "HEAD"], in: directory)
    }

    /// What `git diff` prints, the reference.
    func gitDiff(_ arguments: [String]) async throws -> [UInt8] {
        try await GitCommand.run(["diff"] + arguments, in: directory)
    }
}

/// Numbered lines of text, `count` of them, each ending in a newline.
func lines(_ count: Int, _ label: String = "line") -> String {
    (1...max(1, count)).map { "\(label) \($0)\n" }.joined()
}
