@testable import Conveyor
import Dispatch
import Glibc
import IOSupport
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

    @Test("a hosted I/O loop is stepped on the loop's thread, and its commands wake the loop")
    func hostedSteps() async throws {
        let loop = try LoopExecutor(name: "test loop")
        let io = try FakeIO(wakeup: loop.wakeup)
        loop.host(io)
        // Each push is a command from another thread: the sleeping loop must wake and step.
        for round in 1...3 {
            io.push()
            try await eventually(timeout: hangGuard, "step \(round) saw its command") { io.commandsSeen >= round }
        }
        let jobThread = await Task(executorPreference: loop) { pthread_self() }.value
        io.finish()
        loop.stop()
        try await eventually(timeout: hangGuard, "the loop's thread ended once the hosted loop finished") { !loop.isRunning }
        // Stepped on the loop's thread (or, after a hand-over, on its successors).
        #expect(io.threads.count <= 1 + loop.handoffs)
        #expect(loop.handoffs > 0 || io.threads == [jobThread])
    }

    @Test("a hosted step that blocks hands the loop to another thread; the step's thread gives the I/O back")
    func blockingStepHandsOver() async throws {
        let loop = try LoopExecutor(name: "test loop")
        let io = try FakeIO(wakeup: loop.wakeup)
        io.blockNextStep()
        loop.host(io)
        try await eventually(timeout: hangGuard, "the blocking step started") { io.blocked }
        // Only a new thread can run this job while the step blocks the first one.
        await Task(executorPreference: loop) { io.release() }.value
        #expect(loop.handoffs >= 1)
        // The I/O is stepped again once the blocked step returned.
        io.push()
        try await eventually(timeout: hangGuard, "a later step saw the command") { io.commandsSeen >= 1 }
        io.finish()
        loop.stop()
        try await eventually(timeout: hangGuard, "the loop's thread ended") { !loop.isRunning }
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

/// A stepped I/O loop without a socket: counts the commands its steps took.
private final class FakeIO: SteppedIO, @unchecked Sendable {
    private struct State {
        var pending = 0
        var seen = 0
        var finished = false
        var blockNext = false
        var blocked = false
        var threads: Set<pthread_t> = []
    }
    private let state = Mutex(State())
    private let commands: CommandQueue<Int>
    private let gate = DispatchSemaphore(value: 0)

    init(wakeup: Wakeup) throws {
        commands = CommandQueue(wakeup: wakeup)
    }

    func push() { commands.push(1) }
    func finish() {
        state.withLock { $0.finished = true }
        commands.push(0)
    }
    func blockNextStep() { state.withLock { $0.blockNext = true } }
    func release() { gate.signal() }

    var commandsSeen: Int { state.withLock { $0.seen } }
    var blocked: Bool { state.withLock { $0.blocked } }
    var threads: Set<pthread_t> { state.withLock { $0.threads } }

    func step() -> IOPause? {
        let taken = commands.takeAll().reduce(0, +)
        let (finished, block) = state.withLock { s -> (Bool, Bool) in
            s.seen += taken
            s.threads.insert(pthread_self())
            defer { s.blockNext = false }
            s.blocked = s.blockNext
            return (s.finished, s.blockNext)
        }
        // The hang guard keeps a broken hand-over from hanging the suite.
        if block { _ = gate.wait(timeout: .now() + hangGuard) }
        return finished ? nil : IOPause(descriptor: nil, milliseconds: -1)
    }

    func prepareToSleep() -> Bool { commands.prepareToSleep() }
    func woke() { commands.woke() }
}
