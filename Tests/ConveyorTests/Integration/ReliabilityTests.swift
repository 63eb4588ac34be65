import AMQP
import Conveyor
import Foundation
import Synchronization
import Testing
import TestSupport
#if canImport(Glibc)
import Glibc
#endif

struct Flaky: Error, CustomStringConvertible {
    var description: String { "flaky dependency" }
}

@Suite("Retries, poison messages, revoke and dead-letter operations")
struct ReliabilityTests {
    @Test("a retry policy runs a failing task again with the same id and retries + 1 until it succeeds")
    func retryUntilSuccess() async throws {
        let queue = TestEnvironment.uniqueQueue("retry")
        let seen = Mutex<[Int]>([])
        let worker = try await TestWorker(queue: queue) { registry in
            registry.register("test.flaky", defaults: TaskDefaults(retry: .fixed(maxRetries: 3, delay: 0))) { context in
                seen.withLock { $0.append(context.retries) }
                if context.retries < 2 { throw Flaky() }
                return .string("ok after \(context.retries)")
            }
        }
        let client = try testClient(queue: queue)
        let handle = try await client.send(taskNamed: "test.flaky")
        #expect(try await handle.get(timeout: hangGuard) == "ok after 2")
        #expect(seen.withLock { $0 } == [0, 1, 2])
        await client.close()
        try await worker.stop()
    }

    @Test("retries that run out store FAILURE and dead-letter the message with reason retries-exhausted")
    func retriesExhausted() async throws {
        let queue = TestEnvironment.uniqueQueue("exhausted")
        let runs = Mutex(0)
        let worker = try await TestWorker(queue: queue) { registry in
            registry.register("test.broken", defaults: TaskDefaults(retry: .fixed(maxRetries: 2, delay: 0))) { _ in
                runs.withLock { $0 += 1 }
                throw Flaky()
            }
        }
        let client = try testClient(queue: queue)
        let result = try await client.send(taskNamed: "test.broken").wait(timeout: hangGuard)
        #expect(result.state == .failure)
        #expect(result.exception?.message == "flaky dependency")
        #expect(runs.withLock { $0 } == 3)
        // The letter is confirmed before FAILURE is stored, so it is there already.
        let letters = try await DeadLetterBox(client: client).list(queue: queue)
        let letter = try #require(letters.first { $0.taskId == result.id })
        #expect(letter.reason == "retries-exhausted")
        #expect(letter.properties.headers?["retries"]?.intValue == 2)
        _ = try await DeadLetterBox(client: client).drop(queue: queue)
        await client.close()
        try await worker.stop()
    }

    @Test("a task asking to retry after a delay waits in the broker and runs again no sooner")
    func retryRequestWithDelay() async throws {
        let queue = TestEnvironment.uniqueQueue("retry-after")
        let starts = Mutex<[Date]>([])
        let worker = try await TestWorker(queue: queue) { registry in
            registry.register("test.later") { context in
                starts.withLock { $0.append(Date()) }
                if context.retries == 0 { throw context.retry(after: 1.5) }
                return .int(Int64(context.retries))
            }
        }
        let client = try testClient(queue: queue)
        #expect(try await client.send(taskNamed: "test.later").get(timeout: hangGuard) == 1)
        let times = starts.withLock { $0 }
        #expect(times.count == 2)
        if times.count == 2 { #expect(times[1].timeIntervalSince(times[0]) >= 1.4) }
        await client.close()
        try await worker.stop()
    }

    @Test("argument errors are not retried even under a retry policy")
    func argumentErrorsDoNotRetry() async throws {
        let queue = TestEnvironment.uniqueQueue("argerr")
        let runs = Mutex(0)
        let worker = try await TestWorker(queue: queue) { registry in
            registry.register("test.needs-x", defaults: TaskDefaults(retry: .fixed(maxRetries: 5, delay: 0))) { context in
                runs.withLock { $0 += 1 }
                return .int(try context.argument(0, "x", as: Int64.self))
            }
        }
        let client = try testClient(queue: queue)
        let result = try await client.send(taskNamed: "test.needs-x", args: ["not a number"]).wait(timeout: hangGuard)
        #expect(result.exception?.type == "TypeError")
        #expect(runs.withLock { $0 } == 1)
        await client.close()
        try await worker.stop()
    }

    @Test("a task that kills its worker every time is dead-lettered as poison while other tasks complete")
    func poisonMessage() async throws {
        let queue = TestEnvironment.uniqueQueue("poison")
        let client = try testClient(queue: queue)
        try await client.declare(queue: queue)
        let poison = try await client.send(taskNamed: "conveyor.crash")
        let good = try await client.send(taskNamed: "conveyor.add", args: [2, 2])
        // Each worker takes the crash task, dies, and the next one gets it redelivered.
        var crashes = 0
        for attempt in 0..<6 {
            let worker = try await startWorkerProcess(queue: queue, name: "poison\(attempt)@\(queue)", concurrency: 1,
                                                      extra: ["--allow-crash", "--poison-after", "2", "--prefetch", "1"])
            // Either this worker dies on the crash task, or it dead-letters it as poison.
            try await eventually(timeout: hangGuard, "worker \(attempt) crashed or the task was dead-lettered") {
                if !worker.isRunning { return true }
                return try await client.result(for: poison.id).state == .failure
            }
            if try await client.result(for: poison.id).state == .failure {
                worker.signal(SIGTERM)
                _ = try await worker.waitForExit(timeout: hangGuard)
                break
            }
            if try await worker.waitForExit(timeout: hangGuard) == 70 { crashes += 1 }
        }
        #expect(crashes == 2)
        let result = try await client.result(for: poison.id)
        #expect(result.state == .failure)
        #expect(result.exception?.type == "WorkerLostError")
        let letters = try await DeadLetterBox(client: client).list(queue: queue)
        #expect(letters.first { $0.taskId == poison.id }?.reason == "poison")
        let last = try await startWorkerProcess(queue: queue, name: "poison-final@\(queue)", concurrency: 1)
        #expect(try await good.get(timeout: hangGuard) == 4)
        last.signal(SIGTERM)
        _ = try await last.waitForExit(timeout: hangGuard)
        _ = try await DeadLetterBox(client: client).drop(queue: queue)
        await client.close()
    }

    @Test("tasks stopped or handed back unstarted by clean shutdowns (deploys) are not counted as poison; a stopped one shows PENDING")
    func cleanShutdownsAreNotPoison() async throws {
        let queue = TestEnvironment.uniqueQueue("deploys")
        let client = try testClient(queue: queue)
        try await client.declare(queue: queue)
        let runs = ExecutionCounter()
        // Long enough to be caught by each of the first three shutdowns.
        let register = Self.longTask("test.long-then-short", runs: runs, longRuns: 3)
        let handle = try await client.send(taskNamed: "test.long-then-short")
        // Prefetched behind it and handed back unstarted at each stop: a redelivery is counted
        // only when it is admitted to run, so these count once at most, not once per stop.
        var sums: [TaskHandle] = []
        for i in 0..<3 { sums.append(try await client.send(taskNamed: "conveyor.add", args: [.int(Int64(i)), 1])) }
        // Three deploys, each stopping the worker while the task runs; the limit is 2.
        try await Self.stopDuringRuns(1...3, of: handle.id, counted: runs, queue: queue, prefetch: 4, poisonAfter: 2, register: register) {
            let state = try await client.result(for: handle.id).state
            #expect(state == .pending)
        }
        let last = try await TestWorker(queue: queue, concurrency: 1, poisonAfter: 2, hostname: "final@\(queue)", register: register)
        #expect(try await handle.get(timeout: hangGuard) == "done")
        #expect(runs.count(handle.id) == 4)
        for (i, sum) in sums.enumerated() { #expect(try await sum.get(timeout: hangGuard) == .int(Int64(i + 1))) }
        #expect(try await DeadLetterBox(client: client).list(queue: queue).isEmpty)
        try await last.stop()
        await client.close()
    }

    @Test("a task requeued by more clean shutdowns than 4 × --poison-after ends as poison (it may be stopping its own worker)")
    func endlessCleanShutdownsEnd() async throws {
        let queue = TestEnvironment.uniqueQueue("stopper")
        let client = try testClient(queue: queue)
        try await client.declare(queue: queue)
        let runs = ExecutionCounter()
        let register = Self.longTask("test.never-finishes", runs: runs, longRuns: .max)
        let handle = try await client.send(taskNamed: "test.never-finishes")
        // --poison-after 1: four requeues are forgiven, the fifth counts and the task is poison.
        try await Self.stopDuringRuns(1...5, of: handle.id, counted: runs, queue: queue, prefetch: 1, poisonAfter: 1, register: register) {}
        let last = try await TestWorker(queue: queue, concurrency: 1, poisonAfter: 1, hostname: "final@\(queue)", register: register)
        let result = try await handle.wait(timeout: hangGuard)
        #expect(result.state == .failure)
        #expect(result.exception?.type == "WorkerLostError")
        #expect(runs.count(handle.id) == 5)
        let letters = try await DeadLetterBox(client: client).list(queue: queue)
        #expect(letters.first { $0.taskId == handle.id }?.reason == "poison")
        _ = try await DeadLetterBox(client: client).drop(queue: queue)
        try await last.stop()
        await client.close()
    }

    /// Registers `name`: it sleeps a minute (cancellably) for its first `longRuns` runs, then
    /// returns "done"; `runs` counts its runs per task id.
    private static func longTask(_ name: String, runs: ExecutionCounter, longRuns: Int) -> @Sendable (inout TaskRegistry) -> Void {
        { registry in
            registry.register(name) { context in
                runs.hit(context.id)
                if runs.count(context.id) <= longRuns { try await Task.sleep(for: .seconds(60)) }
                return "done"
            }
        }
    }

    /// Deploys: for each number in `stops`, starts a one-slot worker, waits until that run of
    /// `taskId` has started, stops the worker warm (0.2 s grace, so the run is requeued), then
    /// calls `afterEach`.
    private static func stopDuringRuns(_ stops: ClosedRange<Int>, of taskId: String, counted runs: ExecutionCounter, queue: String,
                                       prefetch: Int, poisonAfter: Int, register: @Sendable (inout TaskRegistry) -> Void,
                                       afterEach: () async throws -> Void) async throws {
        for stop in stops {
            let worker = try await TestWorker(queue: queue, concurrency: 1, prefetch: prefetch, gracePeriod: 0.2, poisonAfter: poisonAfter,
                                              hostname: "deploy\(stop)@\(queue)", register: register)
            try await eventually(timeout: hangGuard, "run \(stop) started") { runs.count(taskId) == stop }
            try await worker.stop(.warm)
            try await afterEach()
        }
    }

    @Test("a revoked task is not run when it arrives, even on a worker started after the revoke")
    func revokeBeforeRun() async throws {
        let queue = TestEnvironment.uniqueQueue("revoke")
        let ran = Mutex(false)
        let client = try testClient(queue: queue)
        try await client.declare(queue: queue)
        let handle = try await client.send(taskNamed: "test.mark")
        try await client.revoke([handle.id])
        #expect(try await client.result(for: handle.id).state == .revoked)
        let worker = try await TestWorker(queue: queue) { registry in
            registry.register("test.mark") { _ in
                ran.withLock { $0 = true }
                return .null
            }
        }
        // A marker sent after it is done only once the revoked one was handled (one queue, in order).
        _ = try await client.send(taskNamed: "conveyor.add", args: [1, 1]).get(timeout: hangGuard)
        #expect(!ran.withLock { $0 })
        #expect(try await client.result(for: handle.id).state == .revoked)
        await client.close()
        try await worker.stop()
    }

    @Test("revoke with terminate cancels a running task on whichever worker holds it")
    func terminateRunning() async throws {
        let queue = TestEnvironment.uniqueQueue("terminate")
        let worker = try await TestWorker(queue: queue, concurrency: 1)
        let client = try testClient(queue: queue)
        // Longer than the hang guard: only a cancelled run frees the one slot in time.
        let long = try await client.send(taskNamed: "conveyor.sleep", args: [.double(hangGuard * 5)])
        try await eventually(timeout: hangGuard, "task started") { try await client.result(for: long.id).state == .started }
        // The terminate goes over the fleet's control channel: a message published before the
        // worker subscribed would not reach it.
        try await eventually(timeout: hangGuard, "the worker listening for control") { worker.worker.isListeningForControl }
        try await client.revoke([long.id], terminate: true)
        let result = try await long.wait(timeout: hangGuard)
        #expect(result.state == .revoked)
        // Its slot is free again: the run was cancelled, not waited for.
        #expect(try await client.send(taskNamed: "conveyor.add", args: [3, 4]).get(timeout: hangGuard) == 7)
        await client.close()
        try await worker.stop()
    }

    @Test("the hard time limit kills the subprocess a task started")
    func hardLimitKillsSubprocess() async throws {
        let queue = TestEnvironment.uniqueQueue("subprocess")
        // The child is found by a duration no other process uses, whether or not it got to run
        // before the limit fired (a loaded machine may start it late; it is killed either way).
        let marker = "300.\(UInt32.random(in: 100_000_000...UInt32.max))"
        let worker = try await TestWorker(queue: queue) { registry in
            registry.register("test.shell") { context in
                let output = try await context.run("/bin/sh", ["-c", "exec sleep \(marker)"])
                return .int(Int64(output.status))
            }
        }
        let client = try testClient(queue: queue)
        let result = try await client.send(taskNamed: "test.shell", options: TaskOptions(timeLimit: 1)).wait(timeout: 60)
        #expect(result.exception?.type == "TimeLimitExceeded")
        try await eventually(timeout: 60, "no live process sleeping \(marker)") { Self.liveProcesses(withArgument: marker).isEmpty }
        await client.close()
        try await worker.stop()
    }

    /// Pids of processes (zombies excluded) with `argument` on their command line.
    private static func liveProcesses(withArgument argument: String) -> [String] {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return entries.filter { pid in
            guard pid.allSatisfy(\.isNumber),
                  let cmdline = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline"),
                  cmdline.split(separator: 0).contains(where: { String(decoding: $0, as: UTF8.self) == argument }),
                  let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8) else { return false }
            return !stat.contains(") Z ")
        }
    }

    @Test("dead letters can be listed, replayed to their queue to run again, and dropped")
    func deadLetterOperations() async throws {
        let queue = TestEnvironment.uniqueQueue("deadops")
        let client = try testClient(queue: queue)
        let box = DeadLetterBox(client: client)
        // A worker that does not know test.late dead-letters three of them.
        let first = try await TestWorker(queue: queue)
        var ids: [String] = []
        for i in 0..<3 { ids.append(try await client.send(taskNamed: "test.late", args: [.int(Int64(i))]).id) }
        try await eventually(timeout: hangGuard, "three dead letters") { try await box.list(queue: queue).count == 3 }
        try await first.stop()
        let letters = try await box.list(queue: queue)
        #expect(Set(letters.compactMap(\.taskId)) == Set(ids))
        #expect(letters.allSatisfy { $0.reason == "unknown-task" && $0.originQueue == queue })
        // Listing left them in place.
        #expect(try await box.list(queue: queue).count == 3)
        // A worker that knows the task; replay two, drop one.
        let second = try await TestWorker(queue: queue) { registry in
            registry.register("test.late") { context in context.args.first ?? .null }
        }
        #expect(try await box.drop(queue: queue, taskIds: [ids[2]]) == 1)
        #expect(try await box.replay(queue: queue) == 2)
        // Replay cleared the FAILURE of the first run, so waiting returns the new outcome; the
        // dropped one keeps its FAILURE.
        for id in ids[0...1] { #expect(try await client.result(for: id).state != .failure) }
        #expect(try await client.result(for: ids[2]).state == .failure)
        #expect(try await client.wait(for: ids[0], timeout: hangGuard).get() == 0)
        #expect(try await client.wait(for: ids[1], timeout: hangGuard).get() == 1)
        #expect(try await box.list(queue: queue).isEmpty)
        await client.close()
        try await second.stop()
    }

    @Test("--all goes through every dead letter in batches, stopping at those there when it began")
    func deadLettersInBatches() async throws {
        let queue = TestEnvironment.uniqueQueue("deadall")
        let client = try testClient(queue: queue)
        let box = DeadLetterBox(client: client)
        // The worker does not know test.nowhere: every replay comes straight back as a dead letter.
        let worker = try await TestWorker(queue: queue)
        for i in 0..<7 { _ = try await client.send(taskNamed: "test.nowhere", args: [.int(Int64(i))]) }
        try await eventually(timeout: hangGuard, "seven dead letters") { try await box.count(queue: queue) == 7 }
        #expect(try await box.replay(queue: queue, limit: 3) == 7, "three batches, and not the letters the replay caused")
        try await eventually(timeout: hangGuard, "the replays dead-lettered again") { try await box.count(queue: queue) == 7 }
        #expect(try await box.drop(queue: queue, limit: 3) == 7)
        #expect(try await box.count(queue: queue) == 0)
        await client.close()
        try await worker.stop()
    }
}
