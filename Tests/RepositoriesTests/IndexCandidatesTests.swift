import Foundation
@testable import Repositories
import Testing
import TestSupport

/// What a snapshot answers, against git and against a scan of every file: the file list is
/// the regular files `git ls-tree` lists, the text ones are what `git grep -I` searches, and
/// `candidates` is exactly the brute-force answer for random trigram formulas.
@Suite("index snapshots against git and a brute-force scan")
struct IndexCandidatesTests {
    @Test("this project's history: files as ls-tree lists them, contents as cat-file prints them, candidates equal a brute-force scan")
    func ownHistory() async throws {
        let fixture = try IndexFixture()
        let clone = fixture.root.path + "/conveyor.git"
        try await GitCommand.run(["clone", "-q", "--bare", TestRepository.projectRoot, clone], in: fixture.root.path)
        // A small per-file limit so some files are too large and must be listed as candidates always.
        let result = try await fixture.service(IndexOptions(maxFileSize: 24 << 10)).index(repository: "conveyor.git")
        let snapshot = try fixture.snapshot("conveyor.git")
        #expect(snapshot.commit == (try await GitCommand.text(["rev-parse", "HEAD"], in: clone)))
        #expect(result.manifest.stats.tooLarge > 0, "the limit should leave some files unindexed")

        let listing = try await GitCommand.run(["ls-tree", "-r", "-z", "HEAD"], in: clone)
        let expected = listing.split(separator: 0).compactMap { line -> (path: [UInt8], blob: String)? in
            guard let tab = line.firstIndex(of: 9) else { return nil }
            let fields = String(decoding: line[..<tab], as: UTF8.self).split(separator: " ")
            guard fields[0] == "100644" || fields[0] == "100755" else { return nil }
            return (Array(line[(tab + 1)...]), String(fields[2]))
        }
        #expect(snapshot.files.map(\.path) == expected.map(\.path))
        #expect(snapshot.files.map(\.blob) == expected.map(\.blob))

        var contents: [[UInt8]] = []
        for index in snapshot.files.indices { contents.append(try await snapshot.content(index)) }
        for index in stride(from: 0, to: snapshot.files.count, by: max(1, snapshot.files.count / 40)) {
            let blob = try await GitCommand.run(["cat-file", "blob", snapshot.files[index].blob], in: clone)
            #expect(contents[index] == blob, "\(String(decoding: snapshot.files[index].path, as: UTF8.self))")
        }
        #expect(zip(snapshot.files, contents).allSatisfy { $0.size == $1.count })

        let pool = Array(contents.filter { $0.count < 4_000 }.prefix(60).reduce(into: Set<UInt32>()) { $0.formUnion(trigrams(of: $1)) })
        let present = contents.map(trigrams(of:))
        var generator = SeededGenerator(seed: 1)
        var nonEmpty = 0
        for _ in 0..<300 {
            let query = randomQuery(pool, depth: 3, using: &generator)
            let answer = snapshot.candidates(query)
            #expect(answer == bruteForceCandidates(query, files: snapshot.files, present: present), "\(query)")
            if answer.count > result.manifest.stats.tooLarge { nonEmpty += 1 }
        }
        #expect(nonEmpty > 50, "most queries should match some indexed file")
        #expect(snapshot.candidates(.all) == snapshot.files.indices.filter { snapshot.files[$0].kind != .binary })
        #expect(snapshot.candidates(.none) == snapshot.files.indices.filter { snapshot.files[$0].kind == .tooLarge })
    }

    @Test("binary by git's rule, too large by the limit, symlinks and submodules left out: the text files are the ones git grep -I searches")
    func skipRules() async throws {
        let fixture = try IndexFixture()
        let repository = try await fixture.root.makeRepository("kinds")
        try repository.write("a.txt", "Alpha beta GAMMA\n")
        try repository.write("bin/tool", "#!/bin/sh\necho tool\n", executable: true)
        try repository.write("image.png", [0x89, 0x50, 0x4E, 0x47, 0x00, 0x01, 0x02, 0x03])
        try repository.write("late-nul.txt", [UInt8](repeating: UInt8(ascii: "x"), count: 8_000) + [0] + Array("tail\n".utf8))
        try repository.write("big.txt", lines(400, "a long line of text"))
        try repository.write("crlf.txt", "one\r\ntwo\r\n")
        try repository.write("empty.txt", "")
        try repository.write("same/a.txt", "Alpha beta GAMMA\n")
        try repository.symlink("link.txt", to: "a.txt")
        let submodule = try await repository.commit("for the submodule's id")
        try await GitCommand.run(["update-index", "--add", "--cacheinfo", "160000,\(submodule),vendor/sub"], in: repository.directory)
        try await GitCommand.run(["commit", "-q", "-m", "with a submodule"], in: repository.directory)

        let result = try await fixture.service(IndexOptions(maxFileSize: 4_096)).index(repository: "kinds")
        let snapshot = try fixture.snapshot("kinds")
        let paths = snapshot.files.map { String(decoding: $0.path, as: UTF8.self) }
        #expect(paths == ["a.txt", "big.txt", "bin/tool", "crlf.txt", "empty.txt", "image.png", "late-nul.txt", "same/a.txt"])
        let kinds = Dictionary(uniqueKeysWithValues: zip(paths, snapshot.files.map(\.kind)))
        #expect(kinds["image.png"] == .binary && kinds["big.txt"] == .tooLarge && kinds["late-nul.txt"] == .tooLarge)
        #expect(kinds["a.txt"] == .text && kinds["bin/tool"] == .text && kinds["crlf.txt"] == .text && kinds["empty.txt"] == .text)
        #expect(result.json["skipped"] == ["binary": 1, "too_large": 2])
        #expect(result.json["files"] == 8)
        #expect(result.json["new_blobs"] == 7, "a.txt and same/a.txt share a blob")

        // git grep -I searches exactly the non-binary regular files (empty ones have no line to list).
        let grep = try await GitCommand.run(["grep", "-I", "-l", "-e", "", "HEAD"], in: repository.directory)
        let searched = String(decoding: grep, as: UTF8.self).split(separator: "\n").map { String($0.dropFirst("HEAD:".count)) }
        #expect(searched == paths.filter { kinds[$0] != .binary && $0 != "empty.txt" })

        let gamma = TrigramQuery.and([.trigram(Trigram(UInt8(ascii: "g"), UInt8(ascii: "a"), UInt8(ascii: "m"))),
                                      .trigram(Trigram(UInt8(ascii: "M"), UInt8(ascii: "m"), UInt8(ascii: "a")))])
        #expect(snapshot.candidates(gamma).map { paths[$0] } == ["a.txt", "big.txt", "late-nul.txt", "same/a.txt"])
        let big = try #require(paths.firstIndex(of: "big.txt"))
        #expect(try await snapshot.content(big) == Array(lines(400, "a long line of text").utf8), "too large files come from git")
        let crlf = try #require(paths.firstIndex(of: "crlf.txt"))
        #expect(try await snapshot.content(crlf) == Array("one\r\ntwo\r\n".utf8))
        let textBytes = snapshot.files.filter { String(decoding: $0.path, as: UTF8.self).hasSuffix(".txt") }.map(\.size).reduce(0, +)
        #expect(result.manifest.stats.languages["Text"] == IndexStats.Language(files: 6, lines: 1 + 400 + 2 + 0 + 1 + 1, bytes: textBytes))
        #expect(result.manifest.stats.languages["Other"] == IndexStats.Language(files: 1, lines: 2, bytes: 20))
    }
}
