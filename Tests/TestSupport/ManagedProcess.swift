import Foundation
import IOSupport
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// A child process for tests (a worker daemon, a Python script, a Celery worker, a service
/// script) whose output goes to a log file, and which is killed if the test forgets it.
///
/// Started with a clean signal mask and default signal handling (`IOSupport.Subprocess`):
/// Foundation's `Process` would pass on the blocked signals of the Swift concurrency thread that
/// starts it, and a child with SIGCHLD or SIGTERM blocked misbehaves (`timeout`, Celery).
public final class ManagedProcess: @unchecked Sendable {
    public let logFile: URL
    private let name: String
    private let child: Subprocess.Child
    private let exit = ExitStatus()

    /// Starts `executable` with `arguments`; `environment` is added to the test's own. A daemon
    /// that outlives its launcher (supervisord) gets `closeOtherDescriptors`, so that it never
    /// holds a descriptor the test inherited (the lock of `flock FILE ops/test`).
    public init(_ executable: URL, _ arguments: [String], environment: [String: String] = [:], name: String? = nil,
                closeOtherDescriptors: Bool = false) throws {
        self.name = name ?? executable.lastPathComponent
        logFile = FileManager.default.temporaryDirectory.appendingPathComponent("conveyor-test-\(self.name)-\(UUID().uuidString.prefix(8)).log")
        _ = FileManager.default.createFile(atPath: logFile.path, contents: nil)
        child = try Subprocess.spawn(executable.path, arguments,
                                     environment: ProcessInfo.processInfo.environment.merging(environment) { $1 },
                                     standardOutput: .file(logFile.path), standardError: .file(logFile.path),
                                     closeOtherDescriptors: closeOtherDescriptors)
        let child = self.child
        let exit = self.exit
        Task { exit.set(await child.wait()) }
    }

    deinit {
        if isRunning { kill(child.pid, SIGKILL) }
    }

    public var pid: Int32 { child.pid }
    public var isRunning: Bool { exit.value == nil }

    /// Sends a signal (SIGTERM for a warm stop, SIGKILL for a crash).
    public func signal(_ signal: Int32) {
        if isRunning { kill(child.pid, signal) }
    }

    /// Waits for exit; kills the process and throws if it takes longer than `timeout`.
    /// Returns the exit status (128 + the signal number when a signal ended it).
    @discardableResult
    public func waitForExit(timeout: Double) async throws -> Int32 {
        let deadline = Date().addingTimeInterval(timeout)
        while true {
            if let code = exit.value { return code }
            if Date() > deadline {
                kill(child.pid, SIGKILL)
                throw TimedOut("\(name) did not exit within \(timeout) s; log: \(log.suffix(2000))")
            }
            try await Task.sleep(for: .milliseconds(20))
        }
    }

    /// Everything the process printed so far.
    public var log: String {
        (try? String(contentsOf: logFile, encoding: .utf8)) ?? ""
    }

    /// Waits until the log contains `text`.
    public func waitForLog(_ text: String, timeout: Double) async throws {
        try await eventually(timeout: timeout, "\(name) logging '\(text)'") {
            let current = log
            if !isRunning && !current.contains(text) {
                throw TimedOut("\(name) exited (status \(exit.value ?? -1)) before logging '\(text)'; log: \(current.suffix(2000))")
            }
            return current.contains(text)
        }
    }
}

/// A child's exit status, once it has exited.
private final class ExitStatus: Sendable {
    private let status = Mutex<Int32?>(nil)
    func set(_ code: Int32) { status.withLock { $0 = code } }
    var value: Int32? { status.withLock { $0 } }
}

/// Runs a Python script from `Tests/InteropTests/python` in the Celery venv and returns its
/// standard output; fails with its output if it exits non-zero.
public enum PythonScript {
    public static func run(_ script: String, _ arguments: [String] = [], environment: [String: String] = [:], timeout: Double = 60) async throws -> String {
        try TestEnvironment.requirePython()
        let path = TestEnvironment.repoRoot.appendingPathComponent("Tests/InteropTests/python/\(script)").path
        let process = try ManagedProcess(URL(fileURLWithPath: TestEnvironment.python), [path] + arguments,
                                         environment: environment.merging(["PYTHONUNBUFFERED": "1"]) { $1 }, name: script)
        let status = try await process.waitForExit(timeout: timeout)
        guard status == 0 else { throw PythonFailed("\(script) exited with \(status):\n\(process.log)") }
        return process.log
    }
}

/// A Python helper script failed.
public struct PythonFailed: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
