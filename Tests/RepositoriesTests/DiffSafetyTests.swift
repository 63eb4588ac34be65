import Conveyor
import Foundation
import Repositories
import Testing

/// Every bad input ends in a `RepositoryError` that says what is wrong and is never retried.
@Suite("diffs.compute refuses bad input")
struct DiffSafetyTests {
    /// One good repository, plus the traps: a symlink out of the root, a `.git` file pointing out,
    /// a plain directory, and a repository with an object removed.
    static func traps() async throws -> (FixtureRoot, outside: FixtureRoot, base: String, head: String, corruptBase: String, corruptHead: String) {
        let root = try FixtureRoot()
        let outside = try FixtureRoot()
        let repo = try await root.makeRepository("good")
        try repo.write("file.txt", "one\n")
        let base = try await repo.commit("one")
        try repo.write("file.txt", "one\ntwo\n")
        let head = try await repo.commit("two")

        let elsewhere = try await outside.makeRepository("elsewhere")
        try elsewhere.write("x", "x\n")
        try await elsewhere.commit("x")
        try FileManager.default.createSymbolicLink(atPath: root.path + "/escape", withDestinationPath: elsewhere.directory)
        try FileManager.default.createDirectory(atPath: root.path + "/gitfile", withIntermediateDirectories: true)
        try "gitdir: \(elsewhere.directory)/.git\n".write(toFile: root.path + "/gitfile/.git", atomically: true, encoding: .utf8)
        try FileManager.default.createDirectory(atPath: root.path + "/plain", withIntermediateDirectories: true)

        let corrupt = try await root.makeRepository("corrupt")
        try corrupt.write("file.txt", "before\n")
        let corruptBase = try await corrupt.commit("before")
        try corrupt.write("file.txt", "after, whose blob goes missing\n")
        let corruptHead = try await corrupt.commit("after")
        let blob = try await GitCommand.text(["rev-parse", "\(corruptHead):file.txt"], in: corrupt.directory)
        let objectPath = corrupt.directory + "/.git/objects/" + blob.prefix(2) + "/" + blob.dropFirst(2)
        try FileManager.default.removeItem(atPath: objectPath)
        return (root, outside, base, head, corruptBase, corruptHead)
    }

    /// (repository, base, head, expected code, words the message has).
    static func badRequests(base: String, head: String, outside: String, corruptBase: String,
                            corruptHead: String) -> [(String, String, String, RepositoryError.Code, String)] {
        [
            ("../good", base, head, .invalidRepository, "'..'"),
            ("good/../../etc", base, head, .invalidRepository, "'..'"),
            ("/etc", base, head, .invalidRepository, "absolute"),
            (outside + "/elsewhere", base, head, .invalidRepository, "absolute"),
            ("escape", base, head, .invalidRepository, "outside"),
            ("gitfile", base, head, .invalidRepository, "outside"),
            ("good\nbad", base, head, .invalidRepository, "control"),
            ("", base, head, .invalidRepository, "1 to"),
            ("missing", base, head, .repositoryNotFound, "no repository"),
            ("plain", base, head, .repositoryNotFound, "not a git repository"),
            ("good", "-p", head, .invalidRef, "option"),
            ("good", base, "--output=/tmp/conveyor-pwned", .invalidRef, "option"),
            ("good", "main\nflush", head, .invalidRef, "whitespace"),
            ("good", "", head, .invalidRef, "1 to"),
            ("good", "no-such-branch", head, .unknownRevision, "no commit"),
            ("good", base, "0000000000000000000000000000000000000000", .unknownRevision, "no commit"),
            ("good", "\(head):file.txt", head, .unknownRevision, "no commit"),
            ("corrupt", corruptBase, corruptHead, .corruptRepository, "corrupt"),
        ]
    }

    @Test("names out of the root, option-like or unknown refs, missing and corrupt repositories: a clear permanent error")
    func permanentErrors() async throws {
        let (root, outside, base, head, corruptBase, corruptHead) = try await Self.traps()
        let pool = try root.pool()
        defer { pool.close() }
        let service = DiffService(repositories: pool)
        for (repository, from, to, code, words) in Self.badRequests(base: base, head: head, outside: outside.path,
                                                                     corruptBase: corruptBase, corruptHead: corruptHead) {
            do {
                _ = try await service.compute(repository: repository, base: from, head: to)
                Issue.record("\(repository) \(from) \(to): no error")
            } catch let error as RepositoryError {
                #expect(error.code == code, "\(repository) \(from) \(to): \(error.code) \(error.message)")
                #expect(error.message.contains(words), "\(repository) \(from) \(to): \(error.message)")
                #expect(error.isPermanent)
                #expect(RepositoryJobs.retry.retryOn(error) == false)
                #expect(error.exceptionInfo.type == "ValueError")
            }
        }
        #expect(!FileManager.default.fileExists(atPath: "/tmp/conveyor-pwned"))
        // The good repository still answers after all that.
        let fine = try await service.compute(repository: "good", base: base, head: head)
        #expect(fine["stats"]?["additions"] == 1)
    }

    @Test("a context or algorithm out of range is refused")
    func badOptions() async throws {
        let (root, _, base, head, _, _) = try await Self.traps()
        let pool = try root.pool()
        defer { pool.close() }
        let service = DiffService(repositories: pool)
        for context in [-1, 10_001, Int.max] {
            await #expect(throws: RepositoryError.self) {
                _ = try await service.compute(repository: "good", base: base, head: head, options: DiffOptions(context: context))
            }
        }
    }

    @Test("a repository whose config asks for an external diff, textconv, a pager and fsmonitor runs none of them")
    func repositoryConfigRunsNothing() async throws {
        let root = try FixtureRoot()
        let repo = try await root.makeRepository("hostile")
        let marker = root.path + "/ran"
        let script = root.path + "/hook.sh"
        try "#!/bin/sh\ntouch \(marker)\n".write(toFile: script, atomically: true, encoding: .utf8)
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: script)
        for (key, value) in [("diff.external", script), ("core.pager", script), ("core.fsmonitor", script),
                             ("diff.evil.textconv", script), ("core.hooksPath", root.path), ("core.sshCommand", script)] {
            try await GitCommand.run(["config", key, value], in: repo.directory)
        }
        try repo.write(".gitattributes", "*.txt diff=evil\n")
        try repo.write("a.txt", "one\n")
        let base = try await repo.commit("one")
        try repo.write("a.txt", "two\n")
        let head = try await repo.commit("two")
        try? FileManager.default.removeItem(atPath: marker)
        let pool = try root.pool()
        defer { pool.close() }
        let result = try await DiffService(repositories: pool).compute(repository: "hostile", base: base, head: head)
        #expect(result.file("a.txt")?["hunks"]?[0]?["lines"] == ["-one", "+two"])
        #expect(!FileManager.default.fileExists(atPath: marker), "a command from the repository's config ran")
    }
}
