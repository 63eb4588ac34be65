import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A child process for tests (a worker daemon, a Python script, a Celery worker) whose output
/// goes to a log file, and which is killed if the test forgets it.
public final class ManagedProcess: @unchecked Sendable {
    public let process = Process()
    public let logFile: URL
    private let name: String

    /// Starts `executable` with `arguments`; `environment` is added to the test's own.
    public init(_ executable: URL, _ arguments: [String], environment: [String: String] = [:], name: String? = nil) throws {
        self.name = name ?? executable.lastPathComponent
        logFile = FileManager.default.temporaryDirectory.appendingPathComponent("conveyor-test-\(self.name)-\(UUID().uuidString.prefix(8)).log")
        _ = FileManager.default.createFile(atPath: logFile.path, contents: nil)
        let handle = try FileHandle(forWritingTo: logFile)
        process.executableURL = executable
        process.arguments = arguments
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        process.standardOutput = handle
        process.standardError = handle
        try process.run()
    }

    deinit {
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
    }

    public var pid: Int32 { process.processIdentifier }
    public var isRunning: Bool { process.isRunning }

    /// Sends a signal (SIGTERM for a warm stop, SIGKILL for a crash).
    public func signal(_ signal: Int32) {
        if process.isRunning { kill(process.processIdentifier, signal) }
    }

    /// Waits for exit; kills the process and throws if it takes longer than `timeout`.
    @discardableResult
    public func waitForExit(timeout: Double) async throws -> Int32 {
        let deadline = Date().addingTimeInterval(timeout)
        while process.isRunning {
            if Date() > deadline {
                kill(process.processIdentifier, SIGKILL)
                throw TimedOut("\(name) did not exit within \(timeout) s; log: \(log.suffix(2000))")
            }
            try await Task.sleep(for: .milliseconds(20))
        }
        return process.terminationStatus
    }

    /// Everything the process printed so far.
    public var log: String {
        (try? String(contentsOf: logFile, encoding: .utf8)) ?? ""
    }

    /// Waits until the log contains `text`.
    public func waitForLog(_ text: String, timeout: Double) async throws {
        try await eventually(timeout: timeout, "\(name) logging '\(text)'") {
            if !process.isRunning && !log.contains(text) {
                throw TimedOut("\(name) exited (status \(process.terminationStatus)) before logging '\(text)'; log: \(log.suffix(2000))")
            }
            return log.contains(text)
        }
    }
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
