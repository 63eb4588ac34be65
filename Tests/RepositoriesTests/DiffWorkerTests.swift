import Conveyor
import Foundation
import IOSupport
import Repositories
import Testing
import TestSupport
#if canImport(Glibc)
import Glibc
#endif

/// `diffs.compute` through the real daemon (`conveyor-worker --repos-root`) and the `conveyor diff`
/// wrapper: the patch printed is git's, bad input ends as FAILURE once (no retry), and a second
/// identical request is answered from the Redis cache.
@Suite("diffs.compute on a worker")
struct DiffWorkerTests {
    @Test("conveyor diff prints git's patch and --stat; bad input exits 1 with the reason and is not retried; the cache answers repeats")
    func daemonAndCommandLine() async throws {
        try TestEnvironment.requireServices()
        let root = try FixtureRoot()
        let (repo, base, head) = try await DiffMatchesGitTests.everyKindOfChange(root)
        let textOnly = try await root.makeRepository("text")
        try textOnly.write("a.txt", lines(30))
        try textOnly.write("b.txt", "b\n")
        let textBase = try await textOnly.commit("one")
        try textOnly.write("a.txt", lines(31))
        try textOnly.remove("b.txt")
        try textOnly.write("c/d.txt", "new\n")
        let textHead = try await textOnly.commit("two")
        let (stats, statsBase, statsHead) = try await Self.statLayouts(root)

        let queue = TestEnvironment.uniqueQueue("diffs")
        let environment = ["CONVEYOR_BROKER_URL": TestEnvironment.brokerURL, "CONVEYOR_RESULT_URL": TestEnvironment.resultURL]
        let worker = try ManagedProcess(try TestEnvironment.requireBinary("conveyor-worker"),
                                        ["--queues", queue, "--concurrency", "4", "--families", "diffs", "--repos-root", root.path,
                                         "--log-level", "debug"],
                                        environment: environment, name: "diff-worker")
        defer { if worker.isRunning { worker.signal(SIGKILL) } }
        try await worker.waitForLog("worker ready", timeout: hangGuard)
        #expect(worker.log.contains("registered the diffs family"))

        // The broker may take longer than the CLI's default 5 s to accept a connection on a loaded machine.
        let cli = ["--queue", queue, "--timeout", "\(hangGuard)", "--connect-timeout", "\(hangGuard)"]
        let patch = try await runBinary("conveyor", ["diff", "kinds", base, head] + cli, environment: environment)
        #expect(patch.status == 0, "\(patch.errors)")
        let expected = try await repo.gitDiff(["--histogram", "-M", "-U3", base, head])
        #expect(patch.output == expected, "\(firstDifference(patch.output, expected))")

        let stat = try await runBinary("conveyor", ["diff", "text", textBase, textHead, "--stat"] + cli, environment: environment)
        let gitStat = try await textOnly.gitDiff(["--stat", textBase, textHead])
        #expect(String(decoding: stat.output, as: UTF8.self) == String(decoding: gitStat, as: UTF8.self))

        // Long names cut to fit 80 columns, renames folded around their common directories,
        // binary sizes and scaled bars, as git lays them out.
        let layouts = try await runBinary("conveyor", ["diff", "stats", statsBase, statsHead, "--stat"] + cli, environment: environment)
        let gitLayouts = try await stats.gitDiff(["--stat", statsBase, statsHead])
        #expect(String(decoding: layouts.output, as: UTF8.self) == String(decoding: gitLayouts, as: UTF8.self))

        let json = try await runBinary("conveyor", ["diff", "text", textBase, textHead, "--json"] + cli, environment: environment)
        let result = try JSON.parse(json.output)
        #expect(result["base"]?.string == textBase && result["stats"]?["files"] == 3)

        for (arguments, reason) in [(["../text", textBase, textHead], "ValueError: repository name '../text'"),
                                    (["text", "--output=/tmp/x", textHead], "ValueError: base '--output=/tmp/x' starts with '-'"),
                                    (["text", textBase, "nope"], "ValueError: head 'nope' names no commit"),
                                    (["missing", textBase, textHead], "ValueError: no repository named 'missing'")] {
            // `--` so a ref that looks like an option reaches the worker, which must refuse it.
            let failed = try await runBinary("conveyor", ["diff"] + cli + ["--"] + arguments, environment: environment)
            #expect(failed.status == 1, "\(arguments): \(failed.errors)")
            #expect(failed.errors.contains("diffs.compute failed: \(reason)"), "\(arguments): \(failed.errors)")
        }
        // Failures were final: each of the four failed once (its log line may reach the file just
        // after its result reached the CLI), and none was sent to run again.
        try await eventually(timeout: hangGuard, "four 'task failed' lines in the worker log") {
            worker.log.components(separatedBy: "msg=\"task failed\"").count - 1 >= 4
        }
        #expect(worker.log.components(separatedBy: "msg=\"task failed\"").count - 1 == 4, "\(worker.log.suffix(2000))")
        #expect(!worker.log.contains("msg=\"task retry\""), "\(worker.log.suffix(2000))")

        // The same diff again comes from Redis: the key is there, and the answer is the same.
        let again = try await runBinary("conveyor", ["diff", "text", textBase, textHead, "--json"] + cli, environment: environment)
        #expect(try JSON.parse(again.output) == result)
        let key = "conveyor:kv:diffs:v2:\(textBase):\(textHead):U3.M.histogram:300.20000.1000000.20000.500000:text"
        let cached = try await runBinary("/usr/bin/redis-cli", ["-u", TestEnvironment.resultURL, "EXISTS", key], environment: [:])
        #expect(String(decoding: cached.output, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines) == "1")

        worker.signal(SIGTERM)
        #expect(try await worker.waitForExit(timeout: hangGuard) == 0)
    }
}

extension DiffWorkerTests {
    /// A repository whose `--stat` needs every layout rule: names past the width, renames with
    /// common prefixes and suffixes, a quoted name, binary files, and changes too many for the bar.
    static func statLayouts(_ root: FixtureRoot) async throws -> (FixtureRepository, String, String) {
        let repo = try await root.makeRepository("stats")
        let deep = "Sources/Conveyor/Coordination/Implementation/Details/AVeryLongFileNameThatKeepsGoing"
        try repo.write("\(deep)/Locks.swift", lines(40))
        try repo.write("docs/guide/old-name/page.md", lines(20, "page"))
        try repo.write("assets/logo.bin", [0, 1, 2, 3, 4, 5, 6, 7])
        try repo.write("big.txt", lines(10))
        try repo.write("tab\tname.txt", "x\n")
        try repo.write("short.txt", "a\n")
        let base = try await repo.commit("base")
        try repo.write("\(deep)/Locks.swift", lines(45))
        try repo.move("docs/guide/old-name/page.md", "docs/guide/new-name/page.md")
        try repo.write("assets/logo.bin", [0, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9])
        try repo.write("assets/new.bin", [0, 1])
        try repo.write("big.txt", lines(300, "grown"))
        try repo.write("tab\tname.txt", "y\n")
        try repo.remove("short.txt")
        try repo.write("\(deep)/More/EvenDeeperDirectoryName/AndAnotherOne/Added.swift", lines(3))
        let head = try await repo.commit("head")
        return (repo, base, head)
    }
}

/// Runs a binary (a name from the build folder, or an absolute path) to its end.
func runBinary(_ name: String, _ arguments: [String], environment: [String: String]) async throws -> (status: Int32, output: [UInt8], errors: String) {
    let executable = name.hasPrefix("/") ? name : try TestEnvironment.requireBinary(name).path
    let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("bin-out-\(UUID().uuidString)").path
    defer {
        try? FileManager.default.removeItem(atPath: scratch + ".out")
        try? FileManager.default.removeItem(atPath: scratch + ".err")
    }
    let child = try Subprocess.spawn(executable, arguments, environment: ProcessInfo.processInfo.environment.merging(environment) { $1 },
                                     standardOutput: .file(scratch + ".out"), standardError: .file(scratch + ".err"),
                                     closeOtherDescriptors: true)
    let status = await child.wait()
    let output = (try? Data(contentsOf: URL(fileURLWithPath: scratch + ".out"))).map { [UInt8]($0) } ?? []
    let errors = (try? String(contentsOfFile: scratch + ".err", encoding: .utf8)) ?? ""
    return (status, output, errors)
}

@Suite("conveyor-worker repository flags")
struct RepositoryFlagTests {
    @Test("an unknown family, the diffs or repos family without a root, a root that is not a directory and bad numbers exit 2 before connecting", arguments: [
        (["--families", "bogus"], "unknown family 'bogus'"),
        (["--families", "diffs"], "needs --repos-root"),
        (["--repos-root", "/nonexistent/conveyor"], "not a directory"),
        (["--repos-root", "/tmp", "--git-timeout", "0"], "--git-timeout"),
        (["--repos-root", "/tmp", "--diff-cache-ttl", "0"], "--diff-cache-ttl"),
        (["--repos-root", "/tmp", "--search-deadline", "0"], "--search-deadline"),
        (["--families", "repos"], "needs --repos-root"),
    ])
    func workerFlags(arguments: [String], reason: String) async throws {
        let run = try await runBinary("conveyor-worker", arguments,
                                      environment: ["CONVEYOR_BROKER_URL": "amqp://guest:guest@127.0.0.1:1/%2F", "CONVEYOR_REPOS_ROOT": ""])
        #expect(run.status == 2, "\(arguments): \(run.errors)")
        #expect(run.errors.hasPrefix("conveyor-worker: ") && run.errors.contains(reason), "\(arguments): \(run.errors)")
    }
}
