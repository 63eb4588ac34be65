@testable import Conveyor
import Glibc
import IOSupport
import Testing

/// A hard time limit kills a task's subprocesses. One the body registers just after the limit
/// fired (it was past its cancellation check when the alarm went off) must not outlive it.
@Suite("child processes of a task")
struct ChildProcessesTests {
    @Test("a child registered after SIGKILL was sent to all is killed at once")
    func registeredAfterSignalAll() async throws {
        let children = RunScope()
        let early = try Subprocess.spawn("/bin/sleep", ["120"])
        children.add(early.pid)
        children.signalAll(SIGKILL)
        // Started and registered after the signal went out, as in the race.
        let late = try Subprocess.spawn("/bin/sleep", ["120"])
        children.add(late.pid)
        // Both end by SIGKILL (128 + 9), not by exiting on their own after 120 s.
        #expect(await early.wait() == 128 + SIGKILL)
        #expect(await late.wait() == 128 + SIGKILL)
    }
}
