@testable import Conveyor
import Foundation
import IOSupport
import Synchronization
import Testing
import TestSupport

/// Something the test opens for tasks waiting on it (polled by the task bodies: an in-process
/// event, not a duration).
final class Gate: Sendable {
    private let open = Mutex(false)
    func release() { open.withLock { $0 = true } }
    var isOpen: Bool { open.withLock { $0 } }
    /// Waits until opened (the hang guard ends a wait nobody ends).
    func wait() async throws {
        try await eventually(timeout: hangGuard, every: 0.01, "the gate opened") { isOpen }
    }
}

@Suite("Locks, caps and unique sends in tasks")
struct TaskCoordinationTests {
    /// Two runs: one deferred for an hour (its copy waits in the delay cascade, so PENDING is
    /// checked while nothing can run it again), one deferred by 1 s until the lock is free.
    @Test("a task whose lock is busy is deferred (PENDING, reason lock) and runs once the lock is free")
    func lockDefersTask() async throws {
        let queue = TestEnvironment.uniqueQueue("lock-defer")
        let name = uniqueLockName("defer")
        let logs = LogRecorder()
        let worker = try await TestWorker(queue: queue, logs: logs) { registry in
            registry.register("test.locked") { context in
                let after = try context.argument(0, "after", as: Double.self)
                let token = try await context.withLock(name, lease: .seconds(30), whenBusy: .deferRun(after: after)) { lease in lease.token }
                return .int(token)
            }
        }
        let client = try testClient(queue: queue)
        let held = try #require(try await client.locks.tryAcquire(name, lease: .seconds(60)))
        let parked = try await client.send(taskNamed: "test.locked", args: [3600])
        let waiting = try await client.send(taskNamed: "test.locked", args: [1])
        try await eventually(timeout: hangGuard, "both runs deferred") {
            logs.count("task deferred", where: "id", is: parked.id) == 1 && logs.count("task deferred", where: "id", is: waiting.id) >= 1
        }
        #expect(logs.count("task deferred", where: "reason", is: "lock") >= 2)
        #expect(try await client.result(for: parked.id).state == .pending)
        try await held.release()
        let token = try await waiting.get(timeout: hangGuard).int
        #expect(token.map { $0 > held.token } == true)
        #expect(logs.count("task retry") == 0)
        await client.close()
        try await worker.stop()
    }

    @Test("a concurrency cap admits at most N runs at once across two workers, deferring the rest")
    func capAcrossWorkers() async throws {
        let queue = TestEnvironment.uniqueQueue("cap")
        let total = 6, limit = 2
        // What the task bodies themselves count.
        let counts = Mutex((running: 0, most: 0, finished: 0))
        let register: (inout TaskRegistry) -> Void = { registry in
            registry.register("test.capped", defaults: TaskDefaults(concurrencyCap: ConcurrencyCap(limit: limit, lease: .seconds(30)))) { _ in
                counts.withLock { c in
                    c.running += 1
                    c.most = max(c.most, c.running)
                }
                // Stays until the cap is full or no other run could join it: concurrency
                // beyond the cap would show up in `most`.
                try await eventually(timeout: hangGuard, every: 0.01, "the cap filled") {
                    counts.withLock { c in c.running >= limit || total - c.finished - c.running <= 0 }
                }
                counts.withLock { c in
                    c.running -= 1
                    c.finished += 1
                }
                return .null
            }
        }
        // All queued before the workers start, so they arrive together and most find the cap full.
        let client = try testClient(queue: queue)
        let handles = try await client.send(batch: Array(repeating: .init(name: "test.capped"), count: total)).map { try $0.get() }
        let logs = LogRecorder()
        let first = try await TestWorker(queue: queue, concurrency: 4, hostname: "cap-a@\(queue)", logs: logs, register: register)
        let second = try await TestWorker(queue: queue, concurrency: 4, hostname: "cap-b@\(queue)", logs: logs, register: register)
        for handle in handles { #expect(try await handle.wait(timeout: hangGuard).state == .success) }
        let observed = counts.withLock { $0 }
        #expect(observed.most == limit, "at most \(limit) at once, and the cap was reached: \(observed)")
        #expect(observed.finished == total)
        #expect(logs.count("task deferred", where: "reason", is: "concurrency") >= 1)
        #expect(try await ConcurrencyCaps(client: client).list(prefix: "test.capped").isEmpty)
        await client.close()
        try await first.stop()
        try await second.stop()
    }

    @Test("a killed holder's cap slot ends with its lease, then another run takes it")
    func killedCapHolderExpires() async throws {
        let client = try testClient(queue: TestEnvironment.uniqueQueue("cap"))
        let caps = ConcurrencyCaps(client: client)
        let key = uniqueLockName("cap-expiry")
        let sentAt = monotonicSeconds()
        let dead = try #require(try await caps.tryAcquire(key, limit: 1, lease: .seconds(3)))
        dead.keeper.stop()   // its process died: nothing renews or frees it
        let meanwhile = try await caps.tryAcquire(key, limit: 1, lease: .seconds(30))
        // Only provable when this check returned within the dead holder's lease (Redis started the
        // lease after `sentAt`); a machine stalled for longer has nothing to show here.
        if monotonicSeconds() < sentAt + 3 {
            #expect(meanwhile == nil, "a second holder got the only slot while the first one's lease ran")
        } else {
            try await meanwhile?.release()
        }
        var next: CapLease?
        try await eventually(timeout: hangGuard, "the dead holder's slot expired") {
            next = try await caps.tryAcquire(key, limit: 1, lease: .seconds(30))
            return next != nil
        }
        let slot = try #require(next)
        #expect(try await caps.list(prefix: key).first?.slots.map(\.holder) == [slot.member])
        try await slot.release()
        #expect(try await caps.list(prefix: key).isEmpty)
        await client.close()
    }

    @Test("a unique send while the first is pending or running returns the first handle; success frees the key")
    func uniqueUntilSuccess() async throws {
        let queue = TestEnvironment.uniqueQueue("unique")
        let gate = Gate()
        let worker = try await TestWorker(queue: queue) { registry in
            registry.register("test.gated") { _ in
                try await gate.wait()
                return "done"
            }
        }
        let client = try testClient(queue: queue)
        let key = uniqueLockName("unique")
        let options = TaskOptions(unique: .until(.success), uniqueKey: key)
        let first = try await client.send(taskNamed: "test.gated", options: options)
        let second = try await client.send(taskNamed: "test.gated", options: options)
        #expect(second.id == first.id)
        gate.release()
        #expect(try await first.get(timeout: hangGuard) == "done")
        // Freed before SUCCESS was stored: the next send publishes a new task.
        let third = try await client.send(taskNamed: "test.gated", options: options)
        #expect(third.id != first.id)
        #expect(try await third.get(timeout: hangGuard) == "done")
        await client.close()
        try await worker.stop()
    }

    @Test("a failed unique task frees its key, so sending it again runs it again")
    func uniqueFreedOnFailure() async throws {
        let queue = TestEnvironment.uniqueQueue("unique-fail")
        let worker = try await TestWorker(queue: queue)
        let client = try testClient(queue: queue)
        // The key derived from the task name and arguments.
        let options = TaskOptions(unique: .until(.success))
        let message = JSON.string(uniqueLockName("boom"))
        let failing = try await client.send(taskNamed: "conveyor.fail", args: [message], options: options)
        #expect(try await failing.wait(timeout: hangGuard).state == .failure)
        let again = try await client.send(taskNamed: "conveyor.fail", args: [message], options: options)
        #expect(again.id != failing.id)
        #expect(try await again.wait(timeout: hangGuard).state == .failure)
        await client.close()
        try await worker.stop()
    }

    @Test("a unique window holds the key after success, and derived keys ignore kwargs order")
    func uniqueWindow() async throws {
        let queue = TestEnvironment.uniqueQueue("unique-window")
        let worker = try await TestWorker(queue: queue)
        let client = try testClient(queue: queue)
        let marker = JSON.string(uniqueLockName("window"))
        let first = try await client.send(taskNamed: "conveyor.echo", kwargs: ["a": marker, "b": 1], options: TaskOptions(unique: .for(600)))
        _ = try await first.get(timeout: hangGuard)
        let again = try await client.send(taskNamed: "conveyor.echo", kwargs: ["b": 1, "a": marker], options: TaskOptions(unique: .for(600)))
        #expect(again.id == first.id)
        let key = try Uniqueness.key(task: "conveyor.echo", args: [], kwargs: ["a": marker, "b": 1], custom: nil)
        _ = try await client.redis.send("DEL", Keys.unique(key))
        await client.close()
        try await worker.stop()
    }
}
