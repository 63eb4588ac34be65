import Conveyor
import Foundation
import Repositories
import Testing

/// `diffs.compute`'s patch is what `git diff --histogram -M -U3` prints, byte for byte, and its
/// structure agrees with `git diff --numstat`.
@Suite("diffs.compute matches git diff")
struct DiffMatchesGitTests {
    /// A base and a head commit covering every kind of change the patch format has.
    /// - Parameter binaries: with binary files (whose "Binary files differ" `git apply` cannot use).
    static func everyKindOfChange(_ root: FixtureRoot, binaries: Bool = true) async throws -> (FixtureRepository, base: String, head: String) {
        let repo = try await root.makeRepository("kinds")
        try repo.write("keep.txt", lines(120))
        try repo.write("rename-me.txt", lines(40, "moving"))
        try repo.write("rename-exact.txt", lines(10, "exact"))
        try repo.write("delete-me.txt", lines(5, "doomed"))
        try repo.write("mode.sh", "#!/bin/sh\necho hi\n")
        try repo.write("mode-and-content.sh", "#!/bin/sh\necho one\n")
        if binaries { try repo.write("binary.bin", [0, 1, 2, 3, 0, 255, 10, 0]) }
        try repo.write("crlf.txt", "first\r\nsecond\r\nthird\r\n")
        try repo.write("noeol.txt", "a\nb\nlast")
        try repo.write("gains-eol.txt", "x\ny")
        try repo.write("unicodé/ファイル.txt", "こんにちは\nwörld\n")
        try repo.write("space name.txt", "one\n")
        try repo.write("tab\tname.txt", "tabbed\n")
        try repo.write("empty.txt", "")
        try repo.write("was-file", "a file\n")
        let base = try await repo.commit("base")

        var changed = lines(120).split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        changed[4] = "changed near the top"
        changed.insert("inserted in the middle", at: 60)
        changed.remove(at: 100)
        try repo.write("keep.txt", changed.joined(separator: "\n"))
        try repo.remove("rename-me.txt")
        var moved = lines(40, "moving").split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        moved[20] = "edited while moving"
        try repo.write("renamed.txt", moved.joined(separator: "\n"))
        try repo.move("rename-exact.txt", "moved/rename-exact.txt")
        try repo.remove("delete-me.txt")
        try repo.write("mode.sh", "#!/bin/sh\necho hi\n", executable: true)
        try repo.write("mode-and-content.sh", "#!/bin/sh\necho two\n", executable: true)
        if binaries {
            try repo.write("binary.bin", [0, 1, 2, 4, 0, 254, 10, 0, 7])
            try repo.write("new-binary.bin", [0x89, 0x50, 0x4E, 0x47, 0, 0, 0, 13])
        }
        try repo.write("crlf.txt", "first\r\nsecond, edited\r\nthird\r\n")
        try repo.write("noeol.txt", "a\nb\nlast, edited")
        try repo.write("gains-eol.txt", "x\ny\n")
        try repo.write("unicodé/ファイル.txt", "こんにちは\nwörld 🌍\n")
        try repo.write("新しい.txt", "新\n")
        try repo.write("space name.txt", "one\ntwo\n")
        try repo.write("tab\tname.txt", "tabbed, edited\n")
        try repo.write("empty-new.txt", "")
        try repo.write("empty.txt", "no longer empty\n")
        try repo.remove("was-file")
        try repo.symlink("was-file", to: "keep.txt")
        let head = try await repo.commit("head")
        return (repo, base, head)
    }

    @Test("adds, deletes, renames, mode changes, binaries, empty files, CRLF, no final newline and unicode paths: byte for byte")
    func everyKind() async throws {
        let root = try FixtureRoot()
        let (repo, base, head) = try await Self.everyKindOfChange(root)
        let pool = try root.pool()
        defer { pool.close() }
        let service = DiffService(repositories: pool)
        let result = try await service.compute(repository: "kinds", base: base, head: head)
        let expected = try await repo.gitDiff(["--histogram", "-M", "-U3", base, head])
        #expect(result.patchBytes == expected, "\(firstDifference(result.patchBytes, expected))")
        #expect(result["truncated"] == false)
        #expect(result["base"]?.string == base)
        #expect(result["head"]?.string == head)

        // The structure agrees with numstat (binary files: "-", counted 0 and flagged).
        let numstat = String(decoding: try await repo.gitDiff(["--numstat", "-z", "-M", base, head]), as: UTF8.self)
        var fields = numstat.split(separator: "\0", omittingEmptySubsequences: false).map(String.init)
        var expectedCounts: [String: (String, String)] = [:]
        while let first = fields.first, !first.isEmpty {
            fields.removeFirst()
            let parts = first.split(separator: "\t", maxSplits: 2, omittingEmptySubsequences: false).map(String.init)
            if parts.count == 3 && parts[2].isEmpty {
                // A rename: old and new paths follow.
                let new = fields.count > 1 ? fields[1] : ""
                expectedCounts[new] = (parts[0], parts[1])
                fields.removeFirst(min(2, fields.count))
            } else if parts.count == 3 {
                expectedCounts[parts[2]] = (parts[0], parts[1])
            }
        }
        let files = try #require(result["files"]?.array)
        #expect(files.count == expectedCounts.count)
        for file in files {
            let path = try #require(file["path"]?.string)
            let counts = try #require(expectedCounts[path], "\(path) not in numstat")
            if counts.0 == "-" {
                #expect(file["binary"] == true, "\(path)")
                #expect(file["additions"] == 0 && file["deletions"] == 0, "\(path)")
            } else {
                #expect(file["additions"]?.int == Int64(counts.0), "\(path) additions")
                #expect(file["deletions"]?.int == Int64(counts.1), "\(path) deletions")
            }
        }
        #expect(result["stats"]?["files"]?.int == Int64(files.count))
        #expect(result["stats"]?["additions"]?.int == files.reduce(0) { $0 + ($1["additions"]?.int ?? 0) })

        let renamed = try #require(result.file("renamed.txt"))
        #expect(renamed["status"] == "renamed")
        #expect(renamed["old_path"] == "rename-me.txt")
        #expect(renamed["similarity"]?.int.map { (50..<100).contains($0) } == true, "\(renamed["similarity"]?.text() ?? "nil")")
        let exact = try #require(result.file("moved/rename-exact.txt"))
        #expect(exact["similarity"] == 100)
        #expect(exact["hunks"]?.array?.isEmpty == true)
        #expect(result.file("delete-me.txt")?["status"] == "deleted")
        #expect(result.file("delete-me.txt")?["mode"] == .null)
        #expect(result.file("delete-me.txt")?["blob"] == .null)
        let added = try #require(result.file("empty-new.txt"))
        #expect(added["status"] == "added")
        #expect(added["old_path"] == .null && added["old_blob"] == .null && added["mode"] == "100644")
        #expect(added["blob"]?.string == "e69de29bb2d1d6434b8b29ae775ad8c2e48c5391")
        let mode = try #require(result.file("mode.sh"))
        #expect(mode["old_mode"] == "100644" && mode["mode"] == "100755")
        #expect(result.file("was-file")?["status"] == "type_changed")
        #expect(result.file("unicodé/ファイル.txt")?["status"] == "modified")
        #expect(result.file("tab\tname.txt")?["status"] == "modified")
        let crlf = try #require(result.file("crlf.txt")?["hunks"]?[0]?["lines"]?.array)
        #expect(crlf.contains("+second, edited\r"))
        let noeol = try #require(result.file("noeol.txt")?["hunks"]?[0]?["lines"]?.array)
        #expect(noeol.contains("\\ No newline at end of file"))
        let hunk = try #require(result.file("keep.txt")?["hunks"]?[0])
        #expect(hunk["old_start"] == 2 && hunk["new_start"] == 2 && hunk["old_lines"] == 7 && hunk["new_lines"] == 7)
        #expect(hunk["lines"]?.array?.contains("+changed near the top") == true)
        let blobId = try await GitCommand.text(["rev-parse", "\(head):keep.txt"], in: repo.directory)
        #expect(result.file("keep.txt")?["blob"]?.string == blobId)
    }

    @Test("git apply --check accepts the patch on the base commit (every kind of text change; git diff prints no applicable binary patch)")
    func patchApplies() async throws {
        let root = try FixtureRoot()
        let (repo, base, head) = try await Self.everyKindOfChange(root, binaries: false)
        let pool = try root.pool()
        defer { pool.close() }
        let result = try await DiffService(repositories: pool).compute(repository: "kinds", base: base, head: head)
        let patchFile = root.path + "/change.patch"
        try Data(result.patchBytes).write(to: URL(fileURLWithPath: patchFile))
        try await GitCommand.run(["checkout", "-q", "--detach", base], in: repo.directory)
        try await GitCommand.run(["apply", "--check", patchFile], in: repo.directory)
        // And applying it for real gives the head tree.
        try await GitCommand.run(["apply", "--index", patchFile], in: repo.directory)
        let written = try await GitCommand.text(["write-tree"], in: repo.directory)
        #expect(written == (try await GitCommand.text(["rev-parse", "\(head)^{tree}"], in: repo.directory)))
    }

    @Test("other options give what git diff gives with the same flags: -U0, --no-renames, myers, patience, minimal")
    func otherOptions() async throws {
        let root = try FixtureRoot()
        let (repo, base, head) = try await Self.everyKindOfChange(root)
        let pool = try root.pool()
        defer { pool.close() }
        let service = DiffService(repositories: pool)
        let cases: [(DiffOptions, [String])] = [
            (DiffOptions(context: 0), ["--histogram", "-M", "-U0"]),
            (DiffOptions(context: 10, renames: false), ["--histogram", "--no-renames", "-U10"]),
            (DiffOptions(algorithm: .myers), ["--diff-algorithm=myers", "-M", "-U3"]),
            (DiffOptions(algorithm: .patience), ["--patience", "-M", "-U3"]),
            (DiffOptions(algorithm: .minimal), ["--minimal", "-M", "-U3"]),
        ]
        for (options, flags) in cases {
            let result = try await service.compute(repository: "kinds", base: base, head: head, options: options)
            let expected = try await repo.gitDiff(flags + [base, head])
            #expect(result.patchBytes == expected, "\(flags): \(firstDifference(result.patchBytes, expected))")
        }
        // Refs, not only ids: branch names and revision expressions resolve to the same commits.
        try await GitCommand.run(["branch", "base-branch", base], in: repo.directory)
        let byName = try await service.compute(repository: "kinds", base: "base-branch", head: "HEAD")
        #expect(byName["base"]?.string == base && byName["head"]?.string == head)
        let byExpression = try await service.compute(repository: "kinds", base: "HEAD~1", head: "main")
        #expect(byExpression["base"]?.string == base)
        let same = try await service.compute(repository: "kinds", base: head, head: head)
        #expect(same["files"]?.array?.isEmpty == true && same["patch"] == "" && same["stats"]?["files"] == 0)
    }

    @Test("a huge file is collapsed to its counts; the rest of the patch is still git's")
    func hugeFileCollapsed() async throws {
        let root = try FixtureRoot()
        let repo = try await root.makeRepository("huge")
        try repo.write("small.txt", "one\n")
        let base = try await repo.commit("base")
        try repo.write("huge.txt", lines(25_000, "a fairly long line of generated text"))
        try repo.write("small.txt", "one\ntwo\n")
        let head = try await repo.commit("huge")
        let pool = try root.pool()
        defer { pool.close() }
        let result = try await DiffService(repositories: pool).compute(repository: "huge", base: base, head: head)
        let huge = try #require(result.file("huge.txt"))
        #expect(huge["collapsed"] == true)
        #expect(huge["additions"] == 25_000)
        #expect(huge["hunks"]?.array?.isEmpty == true)
        #expect(result["truncated"] == true)
        #expect(result.file("small.txt")?["collapsed"] == false)
        #expect(result["stats"]?["additions"] == 25_001)
        let expected = try await repo.gitDiff(["--histogram", "-M", "-U3", base, head, "--", "small.txt"])
        #expect(result.patchBytes == expected, "\(firstDifference(result.patchBytes, expected))")

        // Limits are configurable: with two files at most, the third is counted but not listed.
        try repo.write("a.txt", "a\n")
        try repo.write("b.txt", "b\n")
        try repo.write("c.txt", "c\n")
        let three = try await repo.commit("three")
        var narrow = DiffService(repositories: pool)
        narrow.limits = DiffLimits(maxFiles: 2)
        let limited = try await narrow.compute(repository: "huge", base: head, head: three)
        #expect(limited["files"]?.array?.count == 2)
        #expect(limited["stats"]?["files"] == 3)
        #expect(limited["truncated"] == true)
    }

    @Test("every consecutive commit pair of this project's own history diffs as git diff does")
    func ownHistory() async throws {
        let root = try FixtureRoot()
        let source = TestRepository.projectRoot
        try await GitCommand.run(["clone", "-q", "--bare", source, root.path + "/conveyor.git"], in: root.path)
        let clone = root.path + "/conveyor.git"
        let revisions = try await GitCommand.text(["rev-list", "--no-merges", "--max-count=60", "HEAD"], in: clone)
            .split(separator: "\n").map(String.init)
        let pool = try root.pool()
        defer { pool.close() }
        var service = DiffService(repositories: pool)
        service.limits = DiffLimits(maxFiles: .max, maxLines: .max, maxBytes: .max, maxFileLines: .max, maxFileBytes: .max)
        var compared = 0
        for revision in revisions {
            guard let parent = try? await GitCommand.text(["rev-parse", "--verify", "-q", "\(revision)^"], in: clone) else { continue }
            let result = try await service.compute(repository: "conveyor.git", base: parent, head: revision)
            let expected = try await GitCommand.run(["diff", "--histogram", "-M", "-U3", parent, revision], in: clone)
            #expect(result.patchBytes == expected, "\(revision): \(firstDifference(result.patchBytes, expected))")
            compared += 1
        }
        #expect(compared >= min(10, revisions.count - 1), "compared \(compared) of \(revisions.count)")
    }
}

enum TestRepository {
    /// The checkout these tests were built from (a clone's own history).
    static let projectRoot: String = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().path
}
