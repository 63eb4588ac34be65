import Conveyor
import Foundation
@testable import Repositories
import Testing
import TestSupport

/// `repos.search` through the real index (`repos.index`'s segments and manifest) gives the same
/// answers as `git grep`, for files indexed, files too large to index and binaries alike.
@Suite("repos.search through the index")
struct SearchIndexedTests {
    @Test("searches answered from an index (small per-file limit, so some files are read through git) equal git grep")
    func indexedEqualsGitGrep() async throws {
        let fixture = try IndexFixture()
        let (repo, commit) = try await SearchFixture.build(fixture.root)
        // 256 bytes: the fixture's longer files are `.tooLarge` and verified from git.
        let indexed = try await fixture.service(IndexOptions(maxFileSize: 256)).index(repository: "search")
        #expect(indexed.manifest.commit == commit)
        let kinds = Set(try fixture.snapshot("search").files.map(\.kind))
        #expect(kinds.isSuperset(of: [.text, .tooLarge, .binary]), "\(kinds)")

        let service = SearchService(repositories: fixture.pool, index: fixture.index, deadline: .seconds(hangGuard))
        let repository = try fixture.pool.repository("search")
        // Both "the latest indexed" and the indexed commit by name are answered by the index.
        #expect(try await service.snapshot(repository, name: "search", ref: nil) is IndexedSnapshot)
        #expect(try await service.snapshot(repository, name: "search", ref: commit) is IndexedSnapshot)

        for (query, ignoreCase) in SearchFixture.literals {
            try await SearchMatchesGitTests.compare(service, repository: "search", directory: repo.directory, commit: commit,
                                                    query: query, regex: false, ignoreCase: ignoreCase)
        }
        for (query, ignoreCase) in SearchFixture.regexes {
            try await SearchMatchesGitTests.compare(service, repository: "search", directory: repo.directory, commit: commit,
                                                    query: query, regex: true, ignoreCase: ignoreCase)
        }
        for path in SearchFixture.paths {
            try await SearchMatchesGitTests.compare(service, repository: "search", directory: repo.directory, commit: commit,
                                                    query: "foo", regex: false, ignoreCase: true, path: path)
        }
    }

    @Test("after a push and a re-index, searches see the new commit at once; the old commit is still answered (from memory)")
    func reindexedIsFresh() async throws {
        let fixture = try IndexFixture()
        let (repo, first) = try await SearchFixture.build(fixture.root)
        let indexService = fixture.service()
        _ = try await indexService.index(repository: "search")
        try repo.write("pushed/new.swift", "let freshlyPushedMarker = 1\n")
        let second = try await repo.commit("push")
        let reindexed = try await indexService.index(repository: "search")
        #expect(reindexed.newBlobs == 1)

        let service = SearchService(repositories: fixture.pool, index: fixture.index, deadline: .seconds(hangGuard))
        let repository = try fixture.pool.repository("search")
        #expect(try await service.snapshot(repository, name: "search", ref: nil).commit == second)
        try await SearchMatchesGitTests.compare(service, repository: "search", directory: repo.directory, commit: second,
                                                query: "freshlyPushedMarker", regex: false, ignoreCase: false)
        try await SearchMatchesGitTests.compare(service, repository: "search", directory: repo.directory, commit: first,
                                                query: "freshlyPushedMarker", regex: false, ignoreCase: false)
        let latest = try await service.search(repository: "search", try SearchRequest(query: "freshlyPushedMarker"))
        #expect(latest.commit == second && latest.matches.map(\.line) == [1])
    }
}
