import Foundation
import IOSupport
#if canImport(Glibc)
import Glibc
#endif

/// Private servers and proxies for one fault run, through `ops/lib/fault-services`.
struct Infrastructure {
    let root: URL
    let logs: URL

    init(root: URL) throws {
        self.root = root
        logs = root.appendingPathComponent(".services/faults/logs")
        // Each run keeps only its own logs.
        try? FileManager.default.removeItem(at: logs)
        try FileManager.default.createDirectory(at: logs, withIntermediateDirectories: true)
    }

    /// Runs a fault-services command; throws with the tail of its output if it fails.
    func run(_ arguments: String...) async throws {
        let output = logs.appendingPathComponent("fault-services.log").path
        let child = try Subprocess.spawn(root.appendingPathComponent("ops/lib/fault-services").path, arguments,
                                         standardOutput: .file(output), standardError: .file(output))
        let status = await child.wait()
        guard status == 0 else {
            let text = (try? String(contentsOfFile: output, encoding: .utf8)) ?? ""
            throw ChaosError("fault-services \(arguments.joined(separator: " ")) exited \(status): \(text.suffix(800))")
        }
    }
}

/// A worker daemon under the runner's supervision, restarted when it dies (as systemd would).
final class SupervisedWorker: @unchecked Sendable {
    let name: String
    private let binary: URL
    private let arguments: [String]
    private let environment: [String: String]
    private let logDirectory: URL
    private let restartDelay: Duration
    /// The log line that says it is ready.
    private let readyLine: String
    private let lock = NSLock()
    private var child: Subprocess.Child?
    private var incarnation = 0
    private var supervising = true
    private(set) var logFiles: [URL] = []
    private(set) var exits: [Int32] = []

    /// `restartDelay`: how long after an exit it is started again (zero: at once); `readyLine`:
    /// what it logs when ready (a `conveyor beat` says "beat ready").
    init(name: String, binary: URL, arguments: [String], environment: [String: String], logDirectory: URL,
         restartDelay: Duration = .milliseconds(300), readyLine: String = "worker ready") {
        self.name = name
        self.readyLine = readyLine
        self.restartDelay = restartDelay
        self.binary = binary
        self.arguments = arguments
        self.environment = environment
        self.logDirectory = logDirectory
    }

    /// Starts it and returns once it logged "worker ready" (or died at once, e.g. on a poison
    /// task; the supervisor then starts it again).
    func start() async throws {
        let (log, number) = lock.withLock { () -> (URL, Int) in
            incarnation += 1
            return (logDirectory.appendingPathComponent("\(name)-\(incarnation).log"), incarnation)
        }
        let child = try Subprocess.spawn(binary.path, arguments + ["--hostname", "\(name)-\(number)"],
                                         environment: ProcessInfo.processInfo.environment.merging(environment) { $1 },
                                         standardOutput: .file(log.path), standardError: .file(log.path))
        lock.withLock {
            self.child = child
            logFiles.append(log)
        }
        Task {
            let status = await child.wait()
            let restart = self.lock.withLock { () -> Bool in
                self.exits.append(status)
                if self.child?.pid == child.pid { self.child = nil }
                return self.supervising
            }
            if restart {
                if self.restartDelay > .zero { try? await Task.sleep(for: self.restartDelay) }
                if self.lock.withLock({ self.supervising }) { try? await self.start() }
            }
        }
        let deadline = Date().addingTimeInterval(30)
        while Date() < deadline {
            if let text = try? String(contentsOf: log, encoding: .utf8), text.contains(readyLine) { return }
            if lock.withLock({ self.child?.pid != child.pid }) { return }
            try await Task.sleep(for: .milliseconds(50))
        }
        throw ChaosError("worker \(name) did not become ready; see \(log.path)")
    }

    /// Sends `signal` to the running incarnation (SIGSTOP and SIGCONT freeze and thaw it).
    func signal(_ signal: Int32) {
        lock.withLock { child }?.signal(signal)
    }

    /// The host name of the running incarnation (as given with `--hostname`).
    var hostname: String { lock.withLock { "\(name)-\(incarnation)" } }

    /// kill -9, as a crash or the OOM killer would; the supervisor restarts it.
    func crash() {
        lock.withLock { child }?.signal(SIGKILL)
    }

    /// Stops supervising and shuts it down (TERM, then KILL after `grace` seconds).
    /// - Returns: seconds from TERM until it exited by itself, or nil when it had to be killed
    ///   (or was not running).
    @discardableResult
    func stop(grace: Double = 20) async -> Double? {
        let child = lock.withLock { () -> Subprocess.Child? in
            supervising = false
            return self.child
        }
        guard let child else { return nil }
        let started = Date()
        kill(child.pid, SIGTERM)
        let deadline = started.addingTimeInterval(grace)
        while lock.withLock({ self.child != nil }) && Date() < deadline { try? await Task.sleep(for: .milliseconds(20)) }
        guard lock.withLock({ self.child != nil }) else { return Date().timeIntervalSince(started) }
        child.signal(SIGKILL)
        return nil
    }

    /// Lines of its logs (all incarnations) whose message is `message`.
    func logLines(_ message: String) -> Int {
        logFiles.reduce(0) { count, file in
            let text = (try? String(contentsOf: file, encoding: .utf8)) ?? ""
            return count + text.components(separatedBy: "msg=\"\(message)\"").count - 1
        }
    }
}

struct ChaosError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
