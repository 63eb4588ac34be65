import Foundation
import IOSupport
import Repositories

/// Section 6, search: `repos.search` in process (the family's own cost, no broker), through the
/// index `repos.index` built of the commit, warm, over a fixed set of queries (literals, -i, regexes, path filters) on a real corpus, side by side
/// with one `git grep -n -I` process per query on the same commit in the same run.
struct ReposSearchSection {
    let bench: BenchContext

    /// The corpus: a bare copy the machine already has, at a tag.
    static let corpus = "/opt/swift-packages/apple/swift-nio.git"
    static let tag = "2.101.3"

    /// (query, regex, ignore case, pathspec).
    static let queries: [(String, Bool, Bool, String?)] = [
        ("EventLoopFuture", false, false, nil), ("ByteBuffer", false, false, nil), ("func channelRead(", false, false, nil),
        ("import NIOCore", false, false, nil), ("preconditionFailure", false, false, nil), ("writeAndFlush", false, false, nil),
        ("TODO", false, false, nil), ("precondition(", false, false, nil),
        ("eventloopgroup", false, true, nil), ("HTTP1", false, true, nil), ("channelhandlercontext", false, true, nil),
        ("func [a-z]+Handler", true, false, nil), ("(public|internal) final class", true, false, nil),
        ("EventLoop(Future|Promise)<", true, false, nil), ("^import ", true, false, nil), ("\\.whenComplete", true, false, nil),
        ("[Cc]hannel(Read|Write)", true, true, nil), ("[0-9]{6,}", true, false, nil),
        ("ByteBuffer", false, false, "Sources/NIOCore"), ("assert", false, false, "*.swift"),
    ]

    static func plan(_ sizes: BenchSizes) -> [Row] {
        let count = queries.count * rounds(sizes)
        return [
            Row(key: "repos.search.p50", section: "repos", label: "repos.search, swift-nio \(tag), warm, p50", unit: .milliseconds,
                count: count, note: "\(queries.count) queries: literals, -i, regexes, paths; limit 100"),
            Row(key: "repos.search.p99", section: "repos", label: "repos.search, swift-nio \(tag), warm, p99", unit: .milliseconds, count: count),
            Row(key: "repos.gitgrep.p50", section: "repos", label: "  git grep -n -I process per query, same queries, p50", unit: .milliseconds,
                count: count, note: "git grep -n -I -F|-E [-i] -e Q TAG [-- PATH] > /dev/null"),
            Row(key: "repos.gitgrep.p99", section: "repos", label: "  git grep -n -I process per query, same queries, p99", unit: .milliseconds, count: count),
            Row(key: "repos.search.snapshot", section: "repos", label: "  repos.index of that commit, before the searches", unit: .seconds,
                count: 1, note: "a fresh index directory: every blob read, segment written, manifest published"),
        ]
    }

    static func rounds(_ sizes: BenchSizes) -> Int { sizes.roundTrips >= 1_000 ? 10 : 2 }

    func run() async {
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("conveyor-bench-search-\(getpid())")
        defer { try? FileManager.default.removeItem(at: scratch) }
        do {
            try await measure(scratch)
        } catch {
            for row in Self.plan(bench.sizes) { bench.report.fail(row.key, error) }
        }
    }

    private func measure(_ scratch: URL) async throws {
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
        let clone = scratch.appendingPathComponent("swift-nio.git").path
        // A local clone inside the scratch root (a symlink out of the root would be refused).
        try await ReposSection.git(["clone", "-q", "--bare", Self.corpus, clone], in: scratch.path)
        let commit = try await ReposSection.gitOutput(["rev-parse", "\(Self.tag)^{commit}"], in: clone).trimmingCharacters(in: .whitespacesAndNewlines)
        let pool = RepositoryPool(root: try RepositoryRoot(scratch.path), environment: try GitEnvironment())
        defer { pool.close() }
        // Searches go through the index, as on a worker of the repos family.
        let index = SearchIndex(store: try IndexStore(directory: scratch.appendingPathComponent("index").path), repositories: pool)
        let indexing = monotonicSeconds()
        _ = try await IndexService(index: index).index(repository: "swift-nio.git", ref: Self.tag)
        bench.report.record("repos.search.snapshot", monotonicSeconds() - indexing)
        let service = SearchService(repositories: pool, index: index)
        let requests = try Self.queries.map { try SearchRequest(query: $0.0, regex: $0.1, ignoreCase: $0.2, path: $0.3) }
        let repository = try pool.repository("swift-nio.git")
        guard try await service.snapshot(repository, name: "swift-nio.git", ref: commit) is IndexedSnapshot else {
            throw BenchError("the search does not answer from the index")
        }

        // Warm: the index's snapshot opened, pages cached.
        for request in requests { _ = try await service.search(repository: "swift-nio.git", request, ref: commit) }

        var searches: [UInt64] = []
        var greps: [UInt64] = []
        for _ in 0..<Self.rounds(bench.sizes) {
            for (request, query) in zip(requests, Self.queries) {
                let started = monotonicSeconds()
                _ = try await service.search(repository: "swift-nio.git", request, ref: commit)
                searches.append(UInt64((monotonicSeconds() - started) * 1_000_000))

                let flags = [query.1 ? "-E" : "-F"] + (query.2 ? ["-i"] : []) + ["-e", query.0, commit, "--"] + (query.3.map { [$0] } ?? [])
                let grepStarted = monotonicSeconds()
                try await Self.gitGrep(flags, in: clone)
                greps.append(UInt64((monotonicSeconds() - grepStarted) * 1_000_000))
            }
        }
        bench.report.record("repos.search.p50", ReposSection.percentile(searches, 50))
        bench.report.record("repos.search.p99", ReposSection.percentile(searches, 99))
        bench.report.record("repos.gitgrep.p50", ReposSection.percentile(greps, 50))
        bench.report.record("repos.gitgrep.p99", ReposSection.percentile(greps, 99))
    }

    /// One `git grep -n -I` process under `LC_ALL=C` (as the worker runs git); exit 1 (no match) is fine.
    static func gitGrep(_ flags: [String], in directory: String) async throws {
        let child = try Subprocess.spawn("/usr/bin/git", ["-C", directory, "grep", "-n", "-I"] + flags,
                                         environment: ReposSection.environment.merging(["LC_ALL": "C"]) { $1 },
                                         standardOutput: .file("/dev/null"), standardError: .file("/dev/null"), closeOtherDescriptors: true)
        let status = await child.wait()
        guard status == 0 || status == 1 else { throw BenchError("git grep \(flags.joined(separator: " ")) exited \(status)") }
    }
}
