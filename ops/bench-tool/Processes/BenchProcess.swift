import Foundation
import IOSupport
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// A child process of the benchmark (a worker, a Python client, a C ceiling), its output in a
/// log file, its exit status watched from the moment it starts.
final class BenchProcess: Sendable {
    let name: String
    let log: URL
    let child: Subprocess.Child
    /// Monotonic seconds when it was spawned.
    let spawnedAt: Double
    private let exit = Mutex<Int32?>(nil)

    var pid: Int32 { child.pid }

    /// Starts `executable` with standard output and error appended to `log`.
    /// - Parameter duringShutdown: start it even after `killAll` (the cleanup's own programs).
    init(name: String, executable: String, arguments: [String], environment: [String: String] = [:], log: URL,
         standardOutput: URL? = nil, duringShutdown: Bool = false) throws {
        self.name = name
        self.log = log
        _ = FileManager.default.createFile(atPath: log.path, contents: nil)
        let merged = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        spawnedAt = monotonicSeconds()
        // Spawned under the registry's lock, so `killAll` cannot miss a child starting meanwhile.
        child = try Self.running.withLock { registry in
            guard !registry.stopping || duringShutdown else { throw BenchError("interrupted") }
            let child = try Subprocess.spawn(executable, arguments, environment: merged,
                                             standardOutput: .file((standardOutput ?? log).path), standardError: .file(log.path))
            registry.children[child.pid] = child
            return child
        }
        let child = self.child
        Task {
            let status = await child.wait()
            self.exit.withLock { $0 = status }
            Self.running.withLock { _ = $0.children.removeValue(forKey: child.pid) }
        }
    }

    /// Every child still running, so an interrupted run leaves no worker behind.
    private static let running = Mutex<(children: [Int32: Subprocess.Child], stopping: Bool)>(([:], false))

    /// Kills every child still running (and its process group); no new ones start afterwards.
    static func killAll() {
        let children = running.withLock { registry in
            registry.stopping = true
            return Array(registry.children.values)
        }
        for child in children { child.signal(SIGKILL) }
    }

    /// The exit status once it ended.
    var exitStatus: Int32? { exit.withLock { $0 } }

    /// Waits until the log contains `text`; returns when it was seen.
    /// Throws if the process ends first or `timeout` passes.
    func waitForLine(containing text: String, timeout: Double) async throws -> Instant {
        let deadline = monotonicSeconds() + timeout
        let needle = Array(text.utf8)
        var offset = 0
        while true {
            if let data = FileManager.default.contents(atPath: log.path), data.count > offset {
                let bytes = [UInt8](data)
                // Search from a little before the last end, so a line split across reads is found.
                let start = max(0, offset - needle.count)
                if contains(bytes[start...], needle) { return Instant() }
                offset = bytes.count
            }
            if let status = exitStatus {
                throw BenchError("\(name) exited with status \(status) before '\(text)'; last lines:\n\(tail())")
            }
            if monotonicSeconds() > deadline {
                throw BenchError("\(name) did not log '\(text)' within \(Int(timeout)) s; last lines:\n\(tail())")
            }
            try await Task.sleep(for: .milliseconds(2))
        }
    }

    /// Waits for the process to end by itself; throws after `timeout` (and kills it).
    @discardableResult
    func waitForExit(timeout: Double) async throws -> Int32 {
        let deadline = monotonicSeconds() + timeout
        while monotonicSeconds() < deadline {
            if let status = exitStatus { return status }
            try await Task.sleep(for: .milliseconds(10))
        }
        child.signal(SIGKILL)
        throw BenchError("\(name) did not finish within \(Int(timeout)) s; killed. Last lines:\n\(tail())")
    }

    /// Stops it: SIGTERM (a warm shutdown), then SIGKILL to its process group after `grace`.
    @discardableResult
    func stop(grace: Double = 15) async -> Int32? {
        if let status = exitStatus { return status }
        kill(child.pid, SIGTERM)
        let deadline = monotonicSeconds() + grace
        while monotonicSeconds() < deadline {
            if let status = exitStatus {
                // Celery's pool children share the group; make sure none is left behind.
                child.signal(SIGKILL)
                return status
            }
            try? await Task.sleep(for: .milliseconds(20))
        }
        child.signal(SIGKILL)
        try? await Task.sleep(for: .milliseconds(100))
        return exitStatus
    }

    /// The last lines of the log, for error messages.
    func tail(lines: Int = 12) -> String {
        let text = (try? String(contentsOf: log, encoding: .utf8)) ?? ""
        return text.split(separator: "\n", omittingEmptySubsequences: false).suffix(lines).joined(separator: "\n")
    }

    private func contains(_ haystack: ArraySlice<UInt8>, _ needle: [UInt8]) -> Bool {
        guard !needle.isEmpty, haystack.count >= needle.count else { return needle.isEmpty }
        var index = haystack.startIndex
        while index <= haystack.endIndex - needle.count {
            if haystack[index] == needle[0] && haystack[index..<index + needle.count].elementsEqual(needle) { return true }
            index += 1
        }
        return false
    }
}

/// A moment on both clocks: monotonic for durations inside the bench, wall-clock to compare
/// with the `date_done` the workers store.
struct Instant: Sendable {
    let monotonic = monotonicSeconds()
    let wall = Date()
}

/// A benchmark step that could not be measured, with the reason.
struct BenchError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
