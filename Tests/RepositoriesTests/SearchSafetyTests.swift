import Conveyor
import Foundation
@testable import Repositories
import Synchronization
import Testing
import TestSupport

/// Limits, the deadline, which snapshot answers, and bad input refused for good.
@Suite("repos.search limits and safety")
struct SearchSafetyTests {
    @Test("the limit cuts the result at that many lines in git grep's order and says truncated; exactly enough lines is not truncated")
    func limitAndTruncation() async throws {
        let root = try FixtureRoot()
        let (repo, commit) = try await SearchFixture.build(root)
        let pool = try root.pool()
        defer { pool.close() }
        let service = SearchService(repositories: pool, deadline: .seconds(hangGuard))
        let all = try await GitGrep.lines("foo", commit: commit, in: repo.directory)
        #expect(all.count > 10)
        let cut = try await service.search(repository: "search", try SearchRequest(query: "foo", limit: 3))
        #expect(cut.gitLines == Array(all.prefix(3)))
        #expect(cut.truncated)
        #expect(cut.filesMatched == Set(all.prefix(3).map(\.path)).count)
        let exact = try await service.search(repository: "search", try SearchRequest(query: "foo", limit: all.count))
        #expect(exact.gitLines == all)
        #expect(!exact.truncated)
        #expect(exact.commit == commit)
    }

    @Test("a query too broad for the index stops at the deadline with what it found, truncated; with time it finishes")
    func deadline() async throws {
        let root = try FixtureRoot()
        let (repo, commit) = try await SearchFixture.build(root)
        let pool = try root.pool()
        defer { pool.close() }
        let request = try SearchRequest(query: "o", limit: 10_000)
        #expect(QueryPlanner.plan(request) == .all)
        let stopped = try await SearchService(repositories: pool, deadline: .zero).search(repository: "search", request)
        #expect(stopped.truncated)
        #expect(stopped.matches.isEmpty)
        let finished = try await SearchService(repositories: pool, deadline: .seconds(600)).search(repository: "search", request)
        #expect(!finished.truncated)
        #expect(finished.gitLines == (try await GitGrep.lines("o", commit: commit, in: repo.directory)))
    }

    @Test("bad input fails permanently: limits, query sizes, NUL and newline, bad regexes with regcomp's message, pathspec magic, option-like paths and refs, names leaving the root")
    func badInput() async throws {
        let root = try FixtureRoot()
        _ = try await SearchFixture.build(root)
        let pool = try root.pool()
        defer { pool.close() }
        let service = SearchService(repositories: pool, deadline: .seconds(hangGuard))
        func refused(_ expected: RepositoryError.Code, _ fragment: String, _ body: () async throws -> Void) async {
            do {
                try await body()
                Issue.record("accepted; expected \(expected) mentioning \(fragment)")
            } catch let error as RepositoryError {
                #expect(error.code == expected && error.isPermanent, "\(error.code): \(error.message)")
                #expect(error.message.contains(fragment), "\(error.message)")
            } catch {
                Issue.record("unexpected \(error)")
            }
        }
        await refused(.invalidArgument, "limit must be 1 to 10000, not 0") { _ = try SearchRequest(query: "a", limit: 0) }
        await refused(.invalidArgument, "not 10001") { _ = try SearchRequest(query: "a", limit: 10_001) }
        await refused(.invalidArgument, "not 0") { _ = try SearchRequest(query: "") }
        await refused(.invalidArgument, "not 1001") { _ = try SearchRequest(query: String(repeating: "a", count: 1_001)) }
        await refused(.invalidArgument, "one line") { _ = try SearchRequest(query: "a\nb") }
        await refused(.invalidArgument, "NUL") { _ = try SearchRequest(query: "a\u{0}b") }
        await refused(.invalidArgument, "pathspec magic") { _ = try SearchRequest(query: "a", path: ":(glob)*.swift") }
        await refused(.invalidArgument, "starts with '-'") { _ = try SearchRequest(query: "a", path: "--output=x") }
        await refused(.invalidArgument, "absolute") { _ = try SearchRequest(query: "a", path: "/etc/passwd") }
        await refused(.invalidArgument, "'..'") { _ = try SearchRequest(query: "a", path: "src/../..") }
        await refused(.invalidArgument, "Unmatched \\{") {
            _ = try await service.search(repository: "search", try SearchRequest(query: "a{", regex: true))
        }
        await refused(.invalidArgument, "Invalid preceding regular expression") {
            _ = try await service.search(repository: "search", try SearchRequest(query: "*a", regex: true))
        }
        await refused(.invalidArgument, "Unmatched ( or \\(") {
            _ = try await service.search(repository: "search", try SearchRequest(query: "(a", regex: true))
        }
        await refused(.invalidRef, "starts with '-'") {
            _ = try await service.search(repository: "search", try SearchRequest(query: "a"), ref: "--output=/tmp/x")
        }
        await refused(.unknownRevision, "names no commit") {
            _ = try await service.search(repository: "search", try SearchRequest(query: "a"), ref: "no-such-branch")
        }
        await refused(.invalidRepository, "'..'") { _ = try await service.search(repository: "../search", try SearchRequest(query: "a")) }
        await refused(.invalidRepository, "absolute") { _ = try await service.search(repository: "/etc", try SearchRequest(query: "a")) }
        await refused(.repositoryNotFound, "no repository named") { _ = try await service.search(repository: "missing", try SearchRequest(query: "a")) }
    }

    @Test("the index answers when it holds the commit asked for (or no ref is given); any other commit is read into memory")
    func snapshotChoice() async throws {
        let root = try FixtureRoot()
        let repo = try await root.makeRepository("history")
        try repo.write("a.txt", "old foo\n")
        let old = try await repo.commit("old")
        try repo.write("a.txt", "new foo\n")
        let new = try await repo.commit("new")
        let pool = try root.pool()
        defer { pool.close() }
        let indexed = try await MemorySnapshot.read(try pool.repository("history"), commit: old)
        let index = RecordingIndex(snapshot: indexed)
        let service = SearchService(repositories: pool, index: index, deadline: .seconds(hangGuard))
        let request = try SearchRequest(query: "foo")
        let latest = try await service.search(repository: "history", request)
        #expect(latest.commit == old && latest.matches.map(\.text) == [Array("old foo".utf8)])
        let head = try await service.search(repository: "history", request, ref: "main")
        #expect(head.commit == new && head.matches.map(\.text) == [Array("new foo".utf8)])
        let byRef = try await service.search(repository: "history", request, ref: "HEAD~1")
        #expect(byRef.commit == old)
        #expect(index.asked.withLock { $0 } == ["history", "history", "history"])
    }
    @Test("an index's too-large files are always verified, read through content(); its binary files never are")
    func tooLargeAndBinaryFromAnIndex() async throws {
        let inner = MemorySnapshot(repository: "r", commit: "c", files: [
            (Array("a.txt".utf8), "1", Array("needle in a\n".utf8)),
            (Array("big.txt".utf8), "2", Array("hay\nneedle in big\n".utf8)),
            (Array("c.txt".utf8), "3", Array("needle in c\n".utf8)),
        ])
        let snapshot = KindsSnapshot(inner: inner, kinds: [1: .tooLarge, 2: .binary])
        let request = try SearchRequest(query: "needle in big")
        // big.txt is a candidate as a too-large file (not by its trigrams), read through content().
        let found = try await SearchService.verify(snapshot, plan: QueryPlanner.plan(request), matcher: try PatternMatcher(request),
                                                   request: request, stopAt: .now + .seconds(600))
        #expect(found.matches.map(\.path) == [Array("big.txt".utf8)] && found.matches.map(\.line) == [2])
        let everywhere = try SearchRequest(query: "needle")
        let all = try await SearchService.verify(snapshot, plan: .all, matcher: try PatternMatcher(everywhere), request: everywhere,
                                                 stopAt: .now + .seconds(600))
        #expect(all.matches.map { String(decoding: $0.path, as: UTF8.self) } == ["a.txt", "big.txt"])
        #expect(all.filesMatched == 2 && !all.truncated)
    }
}

/// A snapshot that reports some files of another as too large or binary: a too-large file is a
/// candidate of every query, as an index answers; a binary one is listed too (an index must not),
/// to show the search skips it all the same.
struct KindsSnapshot: IndexSnapshot {
    let inner: MemorySnapshot
    let kinds: [Int: SnapshotFile.Kind]

    var repository: String { inner.repository }
    var commit: String { inner.commit }
    var files: [SnapshotFile] {
        inner.files.enumerated().map { index, file in
            var file = file
            file.kind = kinds[index] ?? file.kind
            return file
        }
    }

    func candidates(_ query: TrigramQuery) -> [Int] {
        Array(Set(inner.candidates(query).filter { kinds[$0] == nil } + kinds.keys)).sorted()
    }

    func content(_ index: Int) async throws -> [UInt8] { try await inner.content(index) }
}

/// An index holding one snapshot, recording which repositories it was asked for.
final class RecordingIndex: IndexSnapshotProvider {
    let snapshot: any IndexSnapshot
    let asked = Mutex<[String]>([])

    init(snapshot: any IndexSnapshot) { self.snapshot = snapshot }

    func latestSnapshot(repository: String) async throws -> (any IndexSnapshot)? {
        asked.withLock { $0.append(repository) }
        return repository == snapshot.repository ? snapshot : nil
    }
}
