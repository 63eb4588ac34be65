@testable import Conveyor
import Dispatch
import Glibc
import Synchronization
import Testing
import TestSupport

/// The worker's loop runs the hot path's tasks on one thread, and a job that holds that thread
/// must not hold up the rest: the loop moves to a new thread.
@Suite("loop executor")
struct LoopExecutorTests {
    @Test("tasks that prefer the loop run on its thread, including after they resume")
    func oneThread() async throws {
        let loop = try LoopExecutor(name: "test loop")
        defer { loop.stop() }
        let threads = Threads()
        await withTaskGroup(of: Void.self) { group in
            for _ in 0..<50 {
                group.addTask(executorPreference: loop) {
                    threads.record()
                    await Task.yield()
                    threads.record()
                }
            }
        }
        let seen = threads.seen
        #expect(!seen.contains(pthread_self()))
        // One thread, unless the machine stalled the loop long enough for the watchdog to hand it
        // over (each hand-over starts one more thread).
        #expect(seen.count <= 1 + loop.handoffs, "threads \(seen), hand-overs \(loop.handoffs)")
    }

    @Test("a job that blocks its thread hands the loop to another thread")
    func blockingJobHandsOver() async throws {
        let loop = try LoopExecutor(name: "test loop")
        defer { loop.stop() }
        let released = DispatchSemaphore(value: 0)
        let blocked = Threads()
        let blocker = Task(executorPreference: loop) { () -> DispatchTimeoutResult in
            blocked.record()
            // Blocks the thread (as a synchronous library would) until the next task runs; only a
            // hand-over lets it run. The hang guard keeps a broken loop from hanging the suite.
            return released.wait(timeout: .now() + hangGuard)
        }
        try await eventually(timeout: hangGuard, "the blocking task started") { !blocked.seen.isEmpty }
        let releaser = Task(executorPreference: loop) { () -> pthread_t in
            released.signal()
            return pthread_self()
        }
        let releasedOn = await releaser.value
        #expect(await blocker.value == .success)
        #expect(!blocked.seen.contains(releasedOn))
        #expect(loop.handoffs >= 1)
    }

    @Test("a stopped loop's thread ends when idle, and later jobs still run")
    func stopThenRun() async throws {
        let loop = try LoopExecutor(name: "test loop")
        #expect(await Task(executorPreference: loop) { 1 }.value == 1)
        #expect(loop.isRunning)
        loop.stop()
        try await eventually(timeout: hangGuard, "the loop's thread ended") { !loop.isRunning }
        #expect(await Task(executorPreference: loop) { 2 }.value == 2)
        try await eventually(timeout: hangGuard, "the thread started for the late job ended") { !loop.isRunning }
    }
}

/// The threads some code ran on.
private final class Threads: Sendable {
    private let ids = Mutex<Set<pthread_t>>([])

    func record() { ids.withLock { _ = $0.insert(pthread_self()) } }
    var seen: Set<pthread_t> { ids.withLock { $0 } }
}
