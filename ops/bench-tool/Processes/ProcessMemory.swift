import Foundation
import IOSupport
import Synchronization

/// Resident memory of a process and its descendants, from `/proc` (Linux).
enum ProcessMemory {
    /// `pid` and every process descending from it (Celery's pool children), found by parent id.
    static func tree(of pid: Int32) -> [Int32] {
        var parents: [Int32: Int32] = [:]
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        for entry in entries {
            guard let child = Int32(entry), let stat = try? String(contentsOfFile: "/proc/\(entry)/stat", encoding: .utf8) else { continue }
            // "pid (comm) state ppid ...": comm may hold spaces, so split after the last ')'.
            guard let close = stat.lastIndex(of: ")") else { continue }
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            if fields.count > 1, let parent = Int32(fields[1]) { parents[child] = parent }
        }
        var members: [Int32] = [pid]
        var frontier: Set<Int32> = [pid]
        while !frontier.isEmpty {
            let next = parents.filter { frontier.contains($0.value) }.map(\.key)
            members += next
            frontier = Set(next)
        }
        return members
    }

    /// VmRSS of one process in kilobytes; nil once it is gone.
    static func residentKilobytes(_ pid: Int32) -> Int? {
        guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { return nil }
        for line in status.split(separator: "\n") where line.hasPrefix("VmRSS:") {
            return Int(line.dropFirst(6).trimmingCharacters(in: .whitespaces).split(separator: " ").first ?? "")
        }
        return nil
    }

    /// The sum of VmRSS over `pids`, in megabytes (MiB).
    static func residentMegabytes(_ pids: [Int32]) -> Double {
        Double(pids.compactMap(residentKilobytes).reduce(0, +)) / 1024
    }
}

/// Samples the summed RSS of process trees every `interval` seconds and keeps the peak.
final class MemorySampler: Sendable {
    private let peak = Mutex<Double>(0)
    private let task: Mutex<Task<Void, Never>?> = Mutex(nil)

    /// Starts sampling the trees rooted at `roots` (re-read once a second, as pools may fork).
    init(roots: [Int32], interval: Double = 0.1) {
        let sampler = Task {
            var members: [Int32] = []
            var refreshed = -Double.infinity
            while !Task.isCancelled {
                if monotonicSeconds() - refreshed >= 1 {
                    members = roots.flatMap(ProcessMemory.tree(of:))
                    refreshed = monotonicSeconds()
                }
                let now = ProcessMemory.residentMegabytes(members)
                self.peak.withLock { $0 = max($0, now) }
                try? await Task.sleep(for: .milliseconds(Int(interval * 1000)))
            }
        }
        task.withLock { $0 = sampler }
    }

    /// Stops sampling; returns the peak in megabytes.
    func stop() -> Double {
        task.withLock { $0?.cancel() }
        return peak.withLock { $0 }
    }
}
