import Conveyor
import Foundation
import Histogram
import IOSupport
import Repositories

/// Section 6: `diffs.compute` in process (the family's own cost, no broker): consecutive commits
/// of this repository uncached, against one `git diff` process per call on the same pairs; cache
/// hits from Redis; and a large diff (swift-syntax release to release, from the local package copy).
struct ReposSection {
    let bench: BenchContext

    /// The larger repository, a bare copy the machine already has; its tags are unrelated roots.
    static let largeRepository = "/opt/swift-packages/swiftlang/swift-syntax.git"
    static let largePairs = [("602.0.0", "603.0.1"), ("600.0.1", "602.0.0")]

    static func plan(_ sizes: BenchSizes) -> [Row] {
        let pairs = pairCount(sizes)
        return [
            Row(key: "repos.diff.uncached.p50", section: "repos", label: "diffs.compute, consecutive commits, uncached, p50",
                unit: .milliseconds, count: pairs, note: "this repository's history; long-lived diff-tree --stdin"),
            Row(key: "repos.gitdiff.p50", section: "repos", label: "  git diff process per call, same pairs, p50", unit: .milliseconds,
                count: pairs, note: "git diff --histogram -M -U3 A B > /dev/null"),
            Row(key: "repos.diff.cached.p50", section: "repos", label: "diffs.compute, cache hit (Redis), p50", unit: .milliseconds,
                count: sizes.roundTrips, note: "both refs resolved (one cat-file round trip), GET, parse"),
            Row(key: "repos.diff.cached.p99", section: "repos", label: "diffs.compute, cache hit (Redis), p99", unit: .milliseconds,
                count: sizes.roundTrips),
            Row(key: "repos.diff.large.p50", section: "repos", label: "diffs.compute, swift-syntax release to release, uncached, p50",
                unit: .milliseconds, count: largePairs.count * largeRounds(sizes), note: "266 and 522 files changed; GitHub limits truncate"),
            Row(key: "repos.gitdiff.large.p50", section: "repos", label: "  git diff process per call, same pairs, p50", unit: .milliseconds,
                count: largePairs.count * largeRounds(sizes)),
        ]
    }

    static func pairCount(_ sizes: BenchSizes) -> Int { sizes.roundTrips >= 1_000 ? 120 : 8 }
    static func largeRounds(_ sizes: BenchSizes) -> Int { sizes.roundTrips >= 1_000 ? 5 : 1 }

    func run() async {
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("conveyor-bench-repos-\(getpid())")
        defer { try? FileManager.default.removeItem(at: scratch) }
        do {
            try await ownHistory(scratch)
        } catch {
            for key in ["repos.diff.uncached.p50", "repos.gitdiff.p50", "repos.diff.cached.p50", "repos.diff.cached.p99"] {
                bench.report.fail(key, error)
            }
        }
        do {
            try await largeDiffs(scratch)
        } catch {
            for key in ["repos.diff.large.p50", "repos.gitdiff.large.p50"] { bench.report.fail(key, error) }
        }
    }

    /// The project's own history, cloned bare into a scratch root.
    private func ownHistory(_ scratch: URL) async throws {
        let source = bench.paths.library.deletingLastPathComponent().deletingLastPathComponent().path
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
        try await Self.git(["clone", "-q", "--bare", source, scratch.appendingPathComponent("conveyor.git").path], in: scratch.path)
        let clone = scratch.appendingPathComponent("conveyor.git").path
        let listing = try await Self.gitOutput(["rev-list", "--no-merges", "--max-count=\(Self.pairCount(bench.sizes) + 1)", "HEAD"], in: clone)
        var pairs: [(String, String)] = []
        for commit in listing.split(separator: "\n").map(String.init) {
            if let parent = try? await Self.gitOutput(["rev-parse", "--verify", "-q", "\(commit)^"], in: clone) {
                pairs.append((parent.trimmingCharacters(in: .whitespacesAndNewlines), commit))
            }
        }
        guard pairs.count >= 2 else { throw BenchError("the repository has fewer than 3 commits to diff") }
        let pool = RepositoryPool(root: try RepositoryRoot(scratch.path), environment: try GitEnvironment())
        defer { pool.close() }
        let cache = KeyValueDiffCache(store: bench.client.keyValues)
        // Uncached: no cache at all (an earlier run's entries would otherwise answer).
        let uncachedService = DiffService(repositories: pool)
        let service = DiffService(repositories: pool, cache: cache, cacheTTL: 600)
        // Warm up: processes started, pages cached; the same for git below.
        _ = try await uncachedService.compute(repository: "conveyor.git", base: pairs[0].0, head: pairs[0].1)
        var uncached: [UInt64] = []
        for (base, head) in pairs {
            let started = monotonicSeconds()
            _ = try await uncachedService.compute(repository: "conveyor.git", base: base, head: head)
            uncached.append(UInt64((monotonicSeconds() - started) * 1_000_000))
        }
        bench.report.record("repos.diff.uncached.p50", Self.percentile(uncached, 50))
        bench.report.record("repos.gitdiff.p50", Self.percentile(try await gitDiffTimes(pairs, in: clone), 50))

        // Fill the cache, then measure hits only.
        for (base, head) in pairs { _ = try await service.compute(repository: "conveyor.git", base: base, head: head) }
        var hits: [UInt64] = []
        for index in 0..<bench.sizes.roundTrips {
            let (base, head) = pairs[index % pairs.count]
            let started = monotonicSeconds()
            _ = try await service.compute(repository: "conveyor.git", base: base, head: head)
            hits.append(UInt64((monotonicSeconds() - started) * 1_000_000))
        }
        bench.report.record("repos.diff.cached.p50", Self.percentile(hits, 50))
        bench.report.record("repos.diff.cached.p99", Self.percentile(hits, 99))
    }

    /// Release-to-release diffs of a larger repository (no cache: each computed anew).
    private func largeDiffs(_ scratch: URL) async throws {
        let root = scratch.appendingPathComponent("large")
        try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
        let link = root.appendingPathComponent("swift-syntax.git")
        // A local clone inside the scratch root (a symlink out of the root would be refused).
        try await Self.git(["clone", "-q", "--bare", Self.largeRepository, link.path], in: root.path)
        let pool = RepositoryPool(root: try RepositoryRoot(root.path), environment: try GitEnvironment())
        defer { pool.close() }
        let service = DiffService(repositories: pool)
        let pairs = Array(repeating: Self.largePairs, count: Self.largeRounds(bench.sizes)).flatMap { $0 }
        _ = try await service.compute(repository: "swift-syntax.git", base: pairs[0].0, head: pairs[0].1)
        var times: [UInt64] = []
        for (base, head) in pairs {
            let started = monotonicSeconds()
            _ = try await service.compute(repository: "swift-syntax.git", base: base, head: head)
            times.append(UInt64((monotonicSeconds() - started) * 1_000_000))
        }
        bench.report.record("repos.diff.large.p50", Self.percentile(times, 50))
        bench.report.record("repos.gitdiff.large.p50", Self.percentile(try await gitDiffTimes(pairs, in: link.path), 50))
    }

    /// One `git diff` process per pair, output discarded, in µs.
    private func gitDiffTimes(_ pairs: [(String, String)], in directory: String) async throws -> [UInt64] {
        _ = try await Self.git(["diff", "--histogram", "-M", "-U3", pairs[0].0, pairs[0].1], in: directory)
        var times: [UInt64] = []
        for (base, head) in pairs {
            let started = monotonicSeconds()
            try await Self.git(["diff", "--histogram", "-M", "-U3", base, head], in: directory)
            times.append(UInt64((monotonicSeconds() - started) * 1_000_000))
        }
        return times
    }

    static func percentile(_ microseconds: [UInt64], _ percentile: Double) -> Double {
        Double(LatencySection.histogram(microseconds).valueAtPercentile(percentile)) / 1000
    }

    static let environment = ["PATH": "/usr/bin:/bin", "HOME": "/nonexistent", "GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": "/dev/null"]

    /// Runs git with output discarded; throws on a non-zero exit.
    static func git(_ arguments: [String], in directory: String) async throws {
        let child = try Subprocess.spawn("/usr/bin/git", ["-C", directory] + arguments, environment: environment,
                                         standardOutput: .file("/dev/null"), standardError: .file("/dev/null"),
                                         closeOtherDescriptors: true)
        let status = await child.wait()
        guard status == 0 else { throw BenchError("git \(arguments.joined(separator: " ")) exited \(status)") }
    }

    /// Runs git and returns what it printed.
    static func gitOutput(_ arguments: [String], in directory: String) async throws -> String {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("bench-git-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: file) }
        let child = try Subprocess.spawn("/usr/bin/git", ["-C", directory] + arguments, environment: environment,
                                         standardOutput: .file(file), standardError: .file("/dev/null"), closeOtherDescriptors: true)
        let status = await child.wait()
        guard status == 0 else { throw BenchError("git \(arguments.joined(separator: " ")) exited \(status)") }
        return (try? String(contentsOfFile: file, encoding: .utf8)) ?? ""
    }
}
