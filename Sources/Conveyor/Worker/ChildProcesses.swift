import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// The subprocesses a running task started, so a hard time limit, a terminate or a cold
/// shutdown can kill them (Swift cannot stop the task's own code, but it can stop these).
final class ChildProcesses: Sendable {
    private let pids = Mutex<Set<Int32>>([])

    func add(_ pid: Int32) { _ = pids.withLock { $0.insert(pid) } }
    func remove(_ pid: Int32) { _ = pids.withLock { $0.remove(pid) } }

    /// Signals every live child (and its process group, so grandchildren go too).
    func signalAll(_ signal: Int32) {
        for pid in pids.withLock({ $0 }) {
            kill(-pid, signal)
            kill(pid, signal)
        }
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
    /// sends it SIGTERM, and a hard time limit SIGKILLs it and its process group.
    public func run(_ executable: String, _ arguments: [String], environment: [String: String]? = nil,
                    currentDirectory: String? = nil) async throws -> ProcessOutput {
        try checkCancellation()
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        if let environment { process.environment = environment }
        if let currentDirectory { process.currentDirectoryURL = URL(fileURLWithPath: currentDirectory) }
        let out = Pipe()
        let err = Pipe()
        process.standardOutput = out
        process.standardError = err
        let exited = AsyncStream<Int32>.makeStream()
        process.terminationHandler = { exited.continuation.yield($0.terminationStatus); exited.continuation.finish() }
        try process.run()
        let pid = process.processIdentifier
        setpgid(pid, pid)
        children.add(pid)
        defer { children.remove(pid) }
        // Read both pipes while the process runs so a full pipe cannot block it; on threads of
        // their own, because a blocking read would starve Swift's small cooperative pool.
        async let stdout = readToEnd(out.fileHandleForReading)
        async let stderr = readToEnd(err.fileHandleForReading)
        let status = await withTaskCancellationHandler {
            var status: Int32 = -1
            for await value in exited.stream { status = value }
            return status
        } onCancel: {
            kill(pid, SIGTERM)
        }
        let output = ProcessOutput(status: status, standardOutput: Array(await stdout), standardError: Array(await stderr))
        try checkCancellation()
        return output
    }
}

/// Reads a pipe to its end on a dedicated thread.
private func readToEnd(_ handle: FileHandle) async -> Data {
    await withCheckedContinuation { (continuation: CheckedContinuation<Data, Never>) in
        let thread = Thread { continuation.resume(returning: handle.readDataToEndOfFile()) }
        thread.name = "conveyor:pipe"
        thread.start()
    }
}
