import Conveyor
import Foundation
import IOSupport
import Repositories
import Testing
import TestSupport
#if canImport(Glibc)
import Glibc
#endif

/// `repos.search` through the real daemon (`conveyor-worker --families repos`) and the `conveyor
/// search` wrapper: the lines printed are git grep's, truncation is noted on standard error, bad
/// input ends as FAILURE once (no retry).
@Suite("repos.search on a worker")
struct SearchWorkerTests {
    /// `git grep -n -I` at `commit` as a person runs it, the `COMMIT:` prefix git adds for a tree taken off.
    private func gitGrep(_ flags: [String], commit: String, path: String? = nil, in directory: String) async throws -> [UInt8] {
        let output = try await GitCommand.run(["-c", "core.quotePath=false", "grep", "-n", "-I"] + flags + [commit, "--"] + (path.map { [$0] } ?? []),
                                              in: directory, accepting: [0, 1])
        let prefix = Array("\(commit):".utf8)
        return output.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false).dropLast()
            .flatMap { line in Array(line.starts(with: prefix) ? line.dropFirst(prefix.count) : line[...]) + [UInt8(ascii: "\n")] }
    }

    @Test("conveyor search prints what git grep -n prints (literal, --regex, -i, --path, --ref); --limit notes truncation; bad input exits 1 with the reason and is not retried")
    func daemonAndCommandLine() async throws {
        try TestEnvironment.requireServices()
        let root = try FixtureRoot()
        let (repo, commit) = try await SearchFixture.build(root)
        try repo.write("later.txt", "foo later\n")
        let head = try await repo.commit("later")

        let queue = TestEnvironment.uniqueQueue("search")
        let environment = ["CONVEYOR_BROKER_URL": TestEnvironment.brokerURL, "CONVEYOR_RESULT_URL": TestEnvironment.resultURL]
        let worker = try ManagedProcess(try TestEnvironment.requireBinary("conveyor-worker"),
                                        ["--queues", queue, "--concurrency", "4", "--families", "repos", "--repos-root", root.path,
                                         "--index-dir", root.path + "/.index", "--search-deadline", "600", "--log-level", "debug"],
                                        environment: environment, name: "search-worker")
        defer { if worker.isRunning { worker.signal(SIGKILL) } }
        try await worker.waitForLog("worker ready", timeout: hangGuard)
        #expect(worker.log.contains("registered the repos family"))
        #expect(!worker.log.contains("registered the diffs family"))

        // The broker may take longer than the CLI's default 5 s to accept a connection on a loaded machine.
        let cli = ["--queue", queue, "--timeout", "\(hangGuard)", "--connect-timeout", "\(hangGuard)"]
        let cases: [(arguments: [String], git: [String], commit: String, path: String?)] = [
            (["foo"], ["-F", "-e", "foo"], head, nil),
            (["FO+", "--regex", "-i", "--path", "src"], ["-E", "-i", "-e", "FO+"], head, "src"),
            (["^[a-z]+ ", "--regex", "--path", "*.txt"], ["-E", "-e", "^[a-z]+ "], head, "*.txt"),
            (["café", "--ref", commit], ["-F", "-e", "café"], commit, nil),
            (["later", "--ref", "HEAD~1"], ["-F", "-e", "later"], commit, nil),
        ]
        for item in cases {
            let run = try await runBinary("conveyor", ["search", "search"] + item.arguments + cli, environment: environment)
            #expect(run.status == 0, "\(item.arguments): \(run.errors)")
            let expected = try await gitGrep(item.git, commit: item.commit, path: item.path, in: repo.directory)
            #expect(run.output == expected, "\(item.arguments): \(firstDifference(run.output, expected))")
            #expect(run.errors.isEmpty, "\(item.arguments): \(run.errors)")
        }

        let limited = try await runBinary("conveyor", ["search", "search", "foo", "--limit", "2"] + cli, environment: environment)
        let all = try await gitGrep(["-F", "-e", "foo"], commit: head, in: repo.directory)
        let firstTwo = all.split(separator: UInt8(ascii: "\n")).prefix(2).flatMap { Array($0) + [UInt8(ascii: "\n")] }
        #expect(limited.status == 0 && limited.output == firstTwo, "\(limited.errors)")
        #expect(limited.errors.contains("search truncated after 2 matching line(s)"), "\(limited.errors)")

        let json = try await runBinary("conveyor", ["search", "search", "needle", "--json"] + cli, environment: environment)
        let result = try JSON.parse(json.output)
        #expect(result["commit"]?.string == head)
        #expect(result["files_matched"] == 1 && result["truncated"] == false)
        #expect(result["matches"]?[0] == ["path": "src/long.txt", "line": 1, "text": "short needle", "ranges": [[6, 12]]])

        // Options before `--`, so a repository or query that looks like an option reaches the worker.
        for (options, arguments, reason) in [(["--regex"], ["search", "a{"], "ValueError: invalid regular expression 'a{': Unmatched \\{"),
                                             (["--path", ":(glob)*"], ["search", "foo"], "ValueError: path ':(glob)*' uses pathspec magic"),
                                             (["--ref=--output=/tmp/x"], ["search", "foo"], "ValueError: ref '--output=/tmp/x' starts with '-'"),
                                             ([], ["../search", "foo"], "ValueError: repository name '../search'")] {
            let failed = try await runBinary("conveyor", ["search"] + cli + options + ["--"] + arguments, environment: environment)
            #expect(failed.status == 1, "\(arguments): \(failed.errors)")
            #expect(failed.errors.contains("repos.search failed: \(reason)"), "\(arguments): \(failed.errors)")
        }
        try await eventually(timeout: hangGuard, "four 'task failed' lines in the worker log") {
            worker.log.components(separatedBy: "msg=\"task failed\"").count - 1 >= 4
        }
        #expect(worker.log.components(separatedBy: "msg=\"task failed\"").count - 1 == 4, "\(worker.log.suffix(2000))")
        #expect(!worker.log.contains("msg=\"task retry\""), "\(worker.log.suffix(2000))")

        worker.signal(SIGTERM)
        #expect(try await worker.waitForExit(timeout: hangGuard) == 0)
    }
}
