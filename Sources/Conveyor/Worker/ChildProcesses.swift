import Foundation
import IOSupport
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// What one run owns besides its message: the subprocesses it started, so a hard time limit, a
/// terminate or a cold shutdown can kill them (Swift cannot stop the task's own code, but it can
/// stop these), and its progress reporter, made when the task first reports progress. One
/// object per run, and none more for the runs (nearly all) that never report.
///
/// A signal sent to all the children sticks: a child registered afterwards (started by a body
/// that was between its cancellation check and registering the child when the limit fired) gets
/// it at once, instead of outliving the limit.
final class RunScope: Sendable {
    private struct State {
        var pids: Set<Int32> = []
        var sent: Int32?
        var reporter: ProgressReporter?
    }
    private let state = Mutex(State())

    /// The run's progress reporter, made on first use.
    var progressReporter: ProgressReporter {
        state.withLock { s in
            if let reporter = s.reporter { return reporter }
            let reporter = ProgressReporter()
            s.reporter = reporter
            return reporter
        }
    }

    /// Whether no progress report waits to be written (none can when the run never reported).
    var isProgressIdle: Bool { state.withLock { $0.reporter }?.isIdle ?? true }

    /// Writes the progress report still waiting, if the run made any.
    func flushProgress(store: ResultStore) async {
        await state.withLock { $0.reporter }?.flush(store: store)
    }

    func add(_ pid: Int32) {
        let pending = state.withLock { s -> Int32? in
            s.pids.insert(pid)
            return s.sent
        }
        if let pending { Self.signal(pid, pending) }
    }

    func remove(_ pid: Int32) { _ = state.withLock { $0.pids.remove(pid) } }

    /// Signals every live child (and its process group, so grandchildren go too), and every
    /// child registered from now on.
    func signalAll(_ signal: Int32) {
        let pids = state.withLock { s -> Set<Int32> in
            s.sent = signal
            return s.pids
        }
        for pid in pids { Self.signal(pid, signal) }
    }

    private static func signal(_ pid: Int32, _ signal: Int32) {
        kill(-pid, signal)
        kill(pid, signal)
    }
}

/// The outcome of `TaskContext.run(_:_:)`.
public struct ProcessOutput: Sendable {
    public var status: Int32
    public var standardOutput: [UInt8]
    public var standardError: [UInt8]

    /// Standard output as text.
    public var text: String { String(decoding: standardOutput, as: UTF8.self) }
}

extension TaskContext {
    /// Runs a subprocess for this task and returns its exit status and output.
    ///
    /// The process is tied to the task: cancellation (soft time limit, revoke, cold shutdown)
    /// sends its process group SIGTERM, and a hard time limit SIGKILLs it. It starts with a clean
    /// signal mask and default signal handling, whatever the worker blocks or ignores.
    public func run(_ executable: String, _ arguments: [String], environment: [String: String]? = nil,
                    currentDirectory: String? = nil) async throws -> ProcessOutput {
        try checkCancellation()
        let out = try OutputPipe()
        let err = try OutputPipe()
        let child: Subprocess.Child
        do {
            child = try Subprocess.spawn(executable, arguments, environment: environment, directory: currentDirectory,
                                         standardOutput: .descriptor(out.writeEnd), standardError: .descriptor(err.writeEnd))
        } catch {
            out.closeBoth()
            err.closeBoth()
            throw error
        }
        scope.add(child.pid)
        defer { scope.remove(child.pid) }
        out.closeWriteEnd()
        err.closeWriteEnd()
        // Both pipes are drained while the child runs, so a full pipe cannot block it.
        async let stdout = out.readToEnd()
        async let stderr = err.readToEnd()
        let status = await withTaskCancellationHandler {
            await child.wait()
        } onCancel: {
            child.signal(SIGTERM)
        }
        let output = ProcessOutput(status: status, standardOutput: await stdout, standardError: await stderr)
        try checkCancellation()
        return output
    }
}

/// A pipe whose read end is drained on a thread of its own (a blocking read would starve
/// Swift's small cooperative pool).
private final class OutputPipe: @unchecked Sendable {
    let readEnd: Int32
    let writeEnd: Int32

    init() throws {
        var fds: [Int32] = [-1, -1]
        guard pipe(&fds) == 0 else { throw SubprocessError(executable: "pipe", code: errno) }
        for fd in fds { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
        readEnd = fds[0]
        writeEnd = fds[1]
    }

    func closeWriteEnd() { close(writeEnd) }

    func closeBoth() {
        close(readEnd)
        close(writeEnd)
    }

    func readToEnd() async -> [UInt8] {
        let fd = readEnd
        return await withCheckedContinuation { (continuation: CheckedContinuation<[UInt8], Never>) in
            let thread = Thread {
                var data: [UInt8] = []
                var buffer = [UInt8](repeating: 0, count: 65_536)
                while true {
                    let count = read(fd, &buffer, buffer.count)
                    if count > 0 {
                        data.append(contentsOf: buffer[0..<count])
                    } else if count < 0 && errno == EINTR {
                        continue
                    } else {
                        break
                    }
                }
                close(fd)
                continuation.resume(returning: data)
            }
            thread.name = "conveyor:pipe"
            thread.start()
        }
    }
}
