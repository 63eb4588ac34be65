import Conveyor
import Foundation
import IOSupport
import Repositories
#if canImport(Glibc)
import Glibc
#endif

/// Section 6, continued: `repos.index` in process (the family's own cost, no broker) on the
/// largest local corpus: a full index's throughput in MB of indexed text per CPU-second of
/// this process (getrusage), git's `cat-file` CPU apart; a re-index after a 10-file commit
/// (seconds from the call to a snapshot of the new commit, and blobs read); and candidates
/// for a 3-trigram AND on the open snapshot.
struct ReposIndexSection {
    let bench: BenchContext

    /// The largest source tree among the local package copies (≈ 57 MB, 2,500 files at HEAD).
    static let corpus = "/opt/swift-packages/apple/swift-protobuf.git"
    static let keys = ["repos.index.throughput", "repos.index.gitcpu", "repos.index.seconds", "repos.reindex.seconds",
                       "repos.reindex.blobs", "repos.index.candidates.p50"]

    static func plan(_ sizes: BenchSizes) -> [Row] {
        [
            Row(key: "repos.index.throughput", section: "repos", label: "repos.index, swift-protobuf, MB of text per CPU-second",
                unit: .megabytesPerCPUSecond, note: "this process's user+system CPU (getrusage); goal >= 30"),
            Row(key: "repos.index.gitcpu", section: "repos", label: "  git cat-file CPU during that index", unit: .seconds,
                note: "utime+stime of the cat-file child (/proc), not in the row above"),
            Row(key: "repos.index.seconds", section: "repos", label: "  same index, wall time", unit: .seconds),
            Row(key: "repos.reindex.seconds", section: "repos", label: "repos.index after a 10-file commit, call to searchable",
                unit: .seconds, note: "until a snapshot of the new commit is open; goal <= 1 s"),
            Row(key: "repos.reindex.blobs", section: "repos", label: "  blobs read from git by that re-index", unit: .count,
                note: "goal: the 10 changed"),
            Row(key: "repos.index.candidates.p50", section: "repos", label: "candidates, 3-trigram AND, warm snapshot, p50",
                unit: .milliseconds, count: sizes.roundTrips, note: "goal well under 1 ms"),
        ]
    }

    func run() async {
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("conveyor-bench-index-\(getpid())")
        defer { try? FileManager.default.removeItem(at: scratch) }
        do {
            try await measure(scratch)
        } catch {
            for key in Self.keys { bench.report.fail(key, error) }
        }
    }

    private func measure(_ scratch: URL) async throws {
        let root = scratch.appendingPathComponent("root")
        try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
        let clone = root.appendingPathComponent("corpus.git").path
        try await ReposSection.git(["clone", "-q", "--bare", Self.corpus, clone], in: root.path)
        let pool = RepositoryPool(root: try RepositoryRoot(root.path), environment: try GitEnvironment())
        defer { pool.close() }
        let index = SearchIndex(store: try IndexStore(directory: scratch.appendingPathComponent("index").path), repositories: pool)
        let service = IndexService(index: index)

        let cpuBefore = Self.processCPU()
        let started = monotonicSeconds()
        let full = try await service.index(repository: "corpus.git")
        let wall = monotonicSeconds() - started
        let cpu = Self.processCPU() - cpuBefore
        let textBytes = full.manifest.files.filter { $0.kind == .text }.map(\.size).reduce(0, +)
        bench.report.record("repos.index.throughput", Double(textBytes) / 1e6 / cpu)
        bench.report.record("repos.index.gitcpu", Self.childrenCPU(named: "git"))
        bench.report.record("repos.index.seconds", wall)

        let snapshot = try Self.open(index, commit: full.manifest.commit)
        try candidates(snapshot)

        let head = try await commitTenFiles(clone, base: full.manifest.commit, paths: snapshot.files.filter { $0.kind == .text }.prefix(10).map(\.path))
        let reindexStarted = monotonicSeconds()
        let again = try await service.index(repository: "corpus.git", ref: head)
        _ = try Self.open(index, commit: head)
        bench.report.record("repos.reindex.seconds", monotonicSeconds() - reindexStarted)
        bench.report.record("repos.reindex.blobs", Double(again.newBlobs))
    }

    /// The snapshot `index` serves for the corpus, checked to be of `commit`.
    static func open(_ index: SearchIndex, commit: String) throws -> any IndexSnapshot {
        guard let snapshot = try index.snapshot(repository: "corpus.git"), snapshot.commit == commit else {
            throw BenchError("the index does not serve \(commit)")
        }
        return snapshot
    }

    /// p50 of `candidates` for a 3-trigram AND over common trigrams of the corpus ("public func").
    private func candidates(_ snapshot: any IndexSnapshot) throws {
        let word = Array("public func".utf8)
        let query = TrigramQuery.and([0, 4, 8].map { .trigram(Trigram(word[$0], word[$0 + 1], word[$0 + 2])) })
        guard !snapshot.candidates(query).isEmpty else { throw BenchError("no candidate for \"public func\"") }
        var times: [UInt64] = []
        for _ in 0..<bench.sizes.roundTrips {
            let started = monotonicSeconds()
            _ = snapshot.candidates(query)
            times.append(UInt64((monotonicSeconds() - started) * 1_000_000))
        }
        bench.report.record("repos.index.candidates.p50", ReposSection.percentile(times, 50))
    }

    /// A commit on `base` changing the files at `paths` (built with plumbing: the clone is bare).
    private func commitTenFiles(_ clone: String, base: String, paths: [[UInt8]]) async throws -> String {
        let work = FileManager.default.temporaryDirectory.appendingPathComponent("bench-index-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: work + ".idx") }
        let environment = ["GIT_INDEX_FILE": work + ".idx", "GIT_AUTHOR_NAME": "bench", "GIT_AUTHOR_EMAIL": "bench@localhost",
                           "GIT_COMMITTER_NAME": "bench", "GIT_COMMITTER_EMAIL": "bench@localhost"]
        _ = try await Self.git(["read-tree", base], in: clone, environment: environment)
        for (number, path) in paths.enumerated() {
            let file = work + "-\(number)"
            defer { try? FileManager.default.removeItem(atPath: file) }
            try Data("// changed by the benchmark \(number) \(UUID().uuidString)\n".utf8).write(to: URL(fileURLWithPath: file))
            let blob = try await Self.git(["hash-object", "-w", file], in: clone, environment: environment)
            _ = try await Self.git(["update-index", "--cacheinfo", "100644,\(blob),\(String(decoding: path, as: UTF8.self))"],
                                   in: clone, environment: environment)
        }
        let tree = try await Self.git(["write-tree"], in: clone, environment: environment)
        return try await Self.git(["commit-tree", tree, "-p", base, "-m", "ten files"], in: clone, environment: environment)
    }

    /// Runs git with extra environment; returns its output, trimmed.
    static func git(_ arguments: [String], in directory: String, environment: [String: String]) async throws -> String {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("bench-git-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: file) }
        let child = try Subprocess.spawn("/usr/bin/git", ["-C", directory] + arguments,
                                         environment: ReposSection.environment.merging(environment) { $1 },
                                         standardOutput: .file(file), standardError: .file("/dev/null"), closeOtherDescriptors: true)
        let status = await child.wait()
        guard status == 0 else { throw BenchError("git \(arguments.joined(separator: " ")) exited \(status)") }
        return ((try? String(contentsOfFile: file, encoding: .utf8)) ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// User + system CPU seconds of this process so far.
    static func processCPU() -> Double {
        var usage = rusage()
        getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &usage)
        return Double(usage.ru_utime.tv_sec) + Double(usage.ru_utime.tv_usec) / 1e6
            + Double(usage.ru_stime.tv_sec) + Double(usage.ru_stime.tv_usec) / 1e6
    }

    /// User + system CPU seconds of this process's running children called `name` (from /proc).
    static func childrenCPU(named name: String) -> Double {
        let me = getpid()
        let ticks = Double(sysconf(Int32(_SC_CLK_TCK)))
        var total = 0.0
        for entry in (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? [] where Int32(entry) != nil {
            guard let stat = try? String(contentsOfFile: "/proc/\(entry)/stat", encoding: .utf8),
                  let open = stat.firstIndex(of: "("), let close = stat.lastIndex(of: ")"),
                  stat[stat.index(after: open)..<close] == name else { continue }
            // After "(comm)": state ppid … utime (14th field) stime (15th).
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            guard fields.count > 13, Int32(fields[1]) == me, let user = Double(fields[11]), let system = Double(fields[12]) else { continue }
            total += (user + system) / ticks
        }
        return total
    }
}
