import Conveyor
import Foundation
import IOSupport
@testable import Repositories
import Testing
import TestSupport
#if canImport(Glibc)
import Glibc
#endif

/// `repos.index` through the real daemon (`conveyor-worker --families repos`): results, bad
/// input failing once, two runs of one repository never side by side, and a worker killed
/// mid-index leaving the previous index searchable.
@Suite("repos.index on a worker")
struct IndexWorkerTests {
    /// A worker of the repos family on a fresh queue, over `fixture`'s root and index directory.
    static func startWorker(_ fixture: IndexFixture, _ queue: String) async throws -> ManagedProcess {
        let environment = ["CONVEYOR_BROKER_URL": TestEnvironment.brokerURL, "CONVEYOR_RESULT_URL": TestEnvironment.resultURL]
        let worker = try ManagedProcess(try TestEnvironment.requireBinary("conveyor-worker"),
                                        ["--queues", queue, "--concurrency", "2", "--families", "repos", "--repos-root", fixture.root.path,
                                         "--index-dir", fixture.indexDirectory, "--log-level", "debug"],
                                        environment: environment, name: "index-worker")
        try await worker.waitForLog("worker ready", timeout: hangGuard)
        #expect(worker.log.contains("registered the repos family"))
        return worker
    }

    @Test("repos.index returns its counts; bad names and refs fail once, without a retry")
    func resultsAndBadInput() async throws {
        try TestEnvironment.requireServices()
        let fixture = try IndexFixture()
        let repository = try await fixture.root.makeRepository("team/app")
        try repository.write("main.swift", "print(\"hello\")\n")
        try repository.write("Sources/lib.c", "int f(void) { return 1; }\n")
        try repository.write("logo.bin", [1, 0, 2])
        let commit = try await repository.commit("one")
        let queue = TestEnvironment.uniqueQueue("index")
        let worker = try await Self.startWorker(fixture, queue)
        defer { if worker.isRunning { worker.signal(SIGKILL) } }
        let client = try testClient(queue: queue)

        let result = try await client.send(taskNamed: "repos.index", kwargs: ["repository": "team/app"]).get(timeout: hangGuard)
        #expect(result["repository"] == "team/app" && result["ref"] == "HEAD" && result["commit"] == .string(commit))
        #expect(result["files"] == 3 && result["bytes"] == 44 && result["new_blobs"] == 3 && result["reused_blobs"] == 0)
        #expect(result["skipped"] == ["binary": 1, "too_large": 0])
        #expect(result["languages"] == ["C": ["files": 1, "lines": 1, "bytes": 26], "Swift": ["files": 1, "lines": 1, "bytes": 15]])
        #expect((result["seconds"]?.double ?? -1) >= 0)
        let again = try await client.send(taskNamed: "repos.index", args: ["team/app", "main"]).get(timeout: hangGuard)
        #expect(again["new_blobs"] == 0 && again["reused_blobs"] == 3 && again["ref"] == "main")

        let bad: [(JSONObject, String)] = [
            (["repository": "../app"], "repository name '../app'"),
            (["repository": "team/app", "ref": "--upload-pack=x"], "ref '--upload-pack=x' starts with '-'"),
            (["repository": "team/app", "ref": "nope"], "ref 'nope' names no commit"),
            (["repository": "missing"], "no repository named 'missing'"),
        ]
        for (kwargs, reason) in bad {
            let outcome = try await client.send(taskNamed: "repos.index", kwargs: kwargs).wait(timeout: hangGuard)
            #expect(outcome.state == .failure, "\(kwargs)")
            #expect(outcome.exception?.type == "ValueError" && outcome.exception?.message.contains(reason) == true,
                    "\(kwargs): \(String(describing: outcome.exception))")
        }
        try await eventually(timeout: hangGuard, "four 'task failed' lines in the worker log") {
            worker.log.components(separatedBy: "msg=\"task failed\"").count - 1 >= 4
        }
        #expect(worker.log.components(separatedBy: "msg=\"task failed\"").count - 1 == 4, "\(worker.log.suffix(2000))")
        #expect(!worker.log.contains("msg=\"task retry\""), "\(worker.log.suffix(2000))")
        await client.close()
        worker.signal(SIGTERM)
        #expect(try await worker.waitForExit(timeout: hangGuard) == 0)
    }

    @Test("two repos.index runs of one repository never interleave: while the lock is held both defer, then one reads the blobs and the other none")
    func oneRunAtATime() async throws {
        try TestEnvironment.requireServices()
        let fixture = try IndexFixture()
        let repository = try await fixture.root.makeRepository("busy")
        for number in 0..<50 { try repository.write("f\(number).txt", "file \(number)\n") }
        try await repository.commit("files")
        let queue = TestEnvironment.uniqueQueue("index-lock")
        let worker = try await Self.startWorker(fixture, queue)
        defer { if worker.isRunning { worker.signal(SIGKILL) } }
        let client = try testClient(queue: queue)

        // The test holds the repository's lock, as a run on another worker would. The lease is
        // renewed every third of it while held; 30 s leaves 20 s for a renewal delayed on a
        // loaded machine (a deferred run then waits at most 30 s, the deferral's cap).
        let lock = RepositoryJobs.indexLockName("busy")
        let held = try #require(try await Locks(client: client, holder: "test").tryAcquire(lock, lease: .seconds(30)))
        let first = try await client.send(taskNamed: "repos.index", kwargs: ["repository": "busy"])
        let second = try await client.send(taskNamed: "repos.index", kwargs: ["repository": "busy"])
        try await eventually(timeout: hangGuard, "both runs deferred on the lock") {
            worker.log.components(separatedBy: "msg=\"task deferred\"").count - 1 >= 2
        }
        #expect(worker.log.contains("reason=lock"), "\(worker.log.suffix(2000))")
        #expect(try await client.result(for: first.id).state == .pending)
        #expect(try fixture.index.snapshot(repository: "busy") == nil, "nothing ran while the lock was held")
        #expect(held.isHeld, "the test's lease lapsed: the runs may have deferred on nothing")
        #expect(try await held.release())

        let results = [try await first.get(timeout: hangGuard), try await second.get(timeout: hangGuard)]
        // Run alongside, both would have found no index and read all 50 blobs.
        #expect(results.map { $0["new_blobs"]?.int ?? -1 }.sorted() == [0, 50], "\(results)")
        #expect(results.allSatisfy { $0["files"] == 50 })
        await client.close()
        worker.signal(SIGTERM)
        #expect(try await worker.waitForExit(timeout: hangGuard) == 0)
    }

    @Test("a worker killed with SIGKILL while it indexes (after its first progress report) leaves the previous index searchable")
    func killedMidIndex() async throws {
        try TestEnvironment.requireServices()
        let fixture = try IndexFixture()
        let repository = try await fixture.root.makeRepository("large")
        try repository.write("README.md", "before\n")
        let before = try await repository.commit("small")
        let queue = TestEnvironment.uniqueQueue("index-kill")
        let worker = try await Self.startWorker(fixture, queue)
        defer { if worker.isRunning { worker.signal(SIGKILL) } }
        let client = try testClient(queue: queue)
        _ = try await client.send(taskNamed: "repos.index", kwargs: ["repository": "large"]).get(timeout: hangGuard)

        // Enough content (≈ 24 MB) that indexing takes a while after its first report.
        let filler = String(repeating: "let someIdentifier = computeValue(from: input) // filler\n", count: 150)
        for number in 0..<3_000 { try repository.write("gen/\(number / 100)/file\(number).swift", "// \(number)\n" + filler) }
        let after = try await repository.commit("large")
        let run = try await client.send(taskNamed: "repos.index", kwargs: ["repository": "large"])
        // PROGRESS, or already done: on a loaded machine the run can pass its reports and finish
        // between two looks, and the checks below take either outcome.
        try await eventually(timeout: hangGuard, "a progress report of the second run, or its end") {
            let state = try await client.result(for: run.id).state
            return state == TaskContext.progressState || state.isReady
        }
        worker.signal(SIGKILL)
        _ = try await worker.waitForExit(timeout: hangGuard)
        await client.close()

        // Killed at any point, the index is a whole published commit: almost always the old one
        // (the kill lands mid-run), the new one if the run outpaced the kill on a busy machine.
        // The crash between segment and manifest is made certain in IndexLifecycleTests.
        let snapshot = try fixture.snapshot("large")
        let killedMidRun = snapshot.commit == before
        if killedMidRun {
            #expect(snapshot.files.map { String(decoding: $0.path, as: UTF8.self) } == ["README.md"])
            #expect(try await snapshot.content(0) == Array("before\n".utf8))
            #expect(snapshot.candidates(.trigram(Trigram(UInt8(ascii: "b"), UInt8(ascii: "e"), UInt8(ascii: "f")))) == [0])
        } else {
            #expect(snapshot.commit == after && snapshot.files.count == 3_001)
        }

        // Indexing again (here, in-process) publishes the new commit over the debris.
        let retried = try await fixture.service().index(repository: "large")
        // (A segment the killed run finished before its manifest may be reused: every blob is
        // read or reused, none twice.)
        #expect(retried.manifest.commit == after && retried.newBlobs + retried.reusedBlobs == 3_001)
        if !killedMidRun { #expect(retried.newBlobs == 0) }
        #expect(try fixture.snapshot("large").files.count == 3_001)
    }
}

@Suite("conveyor-worker repos flags")
struct IndexFlagTests {
    @Test("the repos family without an index directory and a bad --index-max-file-size exit 2 before connecting", arguments: [
        (["--families", "repos", "--repos-root", "/tmp"], "the repos family needs --index-dir"),
        (["--repos-root", "/tmp", "--index-dir", "/tmp/conveyor-index-flags", "--index-max-file-size", "10"], "--index-max-file-size"),
        (["--families", "repos"], "needs --repos-root"),
    ])
    func flags(arguments: [String], reason: String) async throws {
        let run = try await runBinary("conveyor-worker", arguments,
                                      environment: ["CONVEYOR_BROKER_URL": "amqp://guest:guest@127.0.0.1:1/%2F", "CONVEYOR_REPOS_ROOT": "",
                                                    "CONVEYOR_INDEX_DIR": ""])
        #expect(run.status == 2, "\(arguments): \(run.errors)")
        #expect(run.errors.hasPrefix("conveyor-worker: ") && run.errors.contains(reason), "\(arguments): \(run.errors)")
    }
}
