import Conveyor
import Foundation
@testable import Repositories
import Testing
import TestSupport

/// `repos.search` answers what `git grep -n -I` prints for the same commit and flags, with the
/// ranges `git grep -o --column` prints, on repositories built here and on this project's history.
@Suite("repos.search matches git grep")
struct SearchMatchesGitTests {
    /// Our lines and pieces against git's for one query; returns a description of the first mismatch.
    static func compare(_ service: SearchService, repository: String, directory: String, commit: String, query: String,
                        regex: Bool, ignoreCase: Bool, path: String? = nil, ref: String? = nil) async throws {
        let request = try SearchRequest(query: query, regex: regex, ignoreCase: ignoreCase, path: path, limit: SearchRequest.limits.upperBound)
        let result = try await service.search(repository: repository, request, ref: ref ?? commit)
        let label = "\(regex ? "-E" : "-F")\(ignoreCase ? " -i" : "") \(query.debugDescription)\(path.map { " -- \($0)" } ?? "")"
        #expect(result.commit == commit, "\(label)")
        let expected = try await GitGrep.lines(query, regex: regex, ignoreCase: ignoreCase, path: path, commit: commit, in: directory)
        let limit = SearchRequest.limits.upperBound
        #expect(result.gitLines == Array(expected.prefix(limit)), "\(label): ours \(result.gitLines.prefix(8)) git \(expected.prefix(8))")
        #expect(result.truncated == (expected.count > limit), "\(label)")
        #expect(result.filesMatched == Set(result.matches.map(\.path)).count, "\(label)")
        if expected.count <= limit {
            let pieces = try await GitGrep.pieces(query, regex: regex, ignoreCase: ignoreCase, path: path, commit: commit, in: directory)
            #expect(result.gitPieces == pieces, "\(label) -o: ours \(result.gitPieces.prefix(6)) git \(pieces.prefix(6))")
        }
    }

    @Test("literal, -i, regex and regex -i queries on every kind of file: git grep's lines and -o ranges")
    func everyKindOfFile() async throws {
        let root = try FixtureRoot()
        let (repo, commit) = try await SearchFixture.build(root)
        let pool = try root.pool()
        defer { pool.close() }
        let service = SearchService(repositories: pool, deadline: .seconds(hangGuard))
        for (query, ignoreCase) in SearchFixture.literals {
            try await Self.compare(service, repository: "search", directory: repo.directory, commit: commit, query: query, regex: false, ignoreCase: ignoreCase)
        }
        for (query, ignoreCase) in SearchFixture.regexes {
            try await Self.compare(service, repository: "search", directory: repo.directory, commit: commit, query: query, regex: true, ignoreCase: ignoreCase)
        }
    }

    @Test("a pathspec filters as git grep -- PATHSPEC does: directories, files, globs across '/', literal wildcard characters")
    func pathFiltered() async throws {
        let root = try FixtureRoot()
        let (repo, commit) = try await SearchFixture.build(root)
        let pool = try root.pool()
        defer { pool.close() }
        let service = SearchService(repositories: pool, deadline: .seconds(hangGuard))
        for path in SearchFixture.paths {
            for (query, regex, ignoreCase) in [("foo", false, false), ("o", false, true), ("^.", true, false)] {
                try await Self.compare(service, repository: "search", directory: repo.directory, commit: commit, query: query,
                                       regex: regex, ignoreCase: ignoreCase, path: path)
            }
        }
    }

    @Test("generated queries (substrings of the files, case-flipped, regexes built from pieces) give git grep's lines")
    func generatedQueries() async throws {
        let root = try FixtureRoot()
        let (repo, commit) = try await SearchFixture.build(root)
        let pool = try root.pool()
        defer { pool.close() }
        let service = SearchService(repositories: pool, deadline: .seconds(hangGuard))
        var generator = QueryGenerator(seed: 0x5EA2C4)
        let texts = ["Grüße, Welt", "naïve café", "FOO foo Foo fOo", "func search(query: String) -> [Match] {", "beta foo\r",
                     "last line foo", "struct Match { var path: String; var line: Int }", "hay1999 needle"]
        for _ in 0..<60 {
            let (query, regex, ignoreCase) = generator.query(from: texts)
            try await Self.compare(service, repository: "search", directory: repo.directory, commit: commit, query: query,
                                   regex: regex, ignoreCase: ignoreCase, path: generator.pick([nil, nil, nil, "src", "*.txt"]))
        }
    }

    @Test("regexes drawn from the whole ERE grammar, with and without -i, give git grep's lines and ranges")
    func grammarRegexes() async throws {
        let root = try FixtureRoot()
        let (repo, commit) = try await SearchFixture.build(root)
        let pool = try root.pool()
        defer { pool.close() }
        let service = SearchService(repositories: pool, deadline: .seconds(hangGuard))
        var generator = QueryGenerator(seed: 0x6E9)
        var compared = 0
        while compared < 60 {
            let pattern = SearchPlanTests.randomRegex(&generator, depth: 0)
            let ignoreCase = generator.below(3) == 0
            // Patterns regcomp refuses are bad input, tested elsewhere.
            guard (try? PatternMatcher(SearchRequest(query: pattern, regex: true, ignoreCase: ignoreCase))) != nil else { continue }
            try await Self.compare(service, repository: "search", directory: repo.directory, commit: commit, query: pattern,
                                   regex: true, ignoreCase: ignoreCase)
            compared += 1
        }
    }

    @Test("this project's own history: queries at HEAD and at older commits give git grep's lines")
    func ownHistory() async throws {
        let root = try FixtureRoot()
        let clone = root.path + "/conveyor.git"
        try await GitCommand.run(["clone", "-q", "--bare", TestRepository.projectRoot, clone], in: root.path)
        let pool = try root.pool()
        defer { pool.close() }
        let service = SearchService(repositories: pool, deadline: .seconds(hangGuard))
        let commits = try await GitCommand.text(["rev-list", "--max-count=3", "--skip=0", "HEAD~5"], in: clone).split(separator: "\n").map(String.init)
        let head = try await GitCommand.text(["rev-parse", "HEAD"], in: clone)
        let queries: [(String, Bool, Bool, String?)] = [
            ("func ", false, false, nil), ("RepositoryError", false, false, nil), ("async throws", false, true, "*.swift"),
            ("^import [A-Z]", true, false, nil), ("func [a-z]+\\(", true, false, "workers/"), ("celery", false, true, nil),
            ("TODO|FIXME", true, false, nil), ("(retry|Retry)Policy", true, false, "Sources"), ("é", false, false, nil),
            ("[[:digit:]]{4,}", true, false, "*.md"), ("let ", false, false, "Tests/RepositoriesTests"),
        ]
        for commit in [head] + commits {
            for (query, regex, ignoreCase, path) in queries {
                try await Self.compare(service, repository: "conveyor.git", directory: clone, commit: commit, query: query,
                                       regex: regex, ignoreCase: ignoreCase, path: path)
            }
        }
    }
}
