import ArgumentParser
import Conveyor
import Foundation

/// `conveyor health PATH`: reads a worker's health file (`conveyor-worker --health-file`) and
/// exits 0 when it says ok and is fresh, 1 when degraded, 2 when stale, missing, unreadable or
/// stopping: an exec probe for Kubernetes or a systemd watchdog, with no broker round trip.
struct HealthCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "health",
        abstract: "Check a worker's health file: exit 0 ok, 1 degraded, 2 stale, missing or stopping (one line of output).")

    @Argument(help: "The file the worker was given with --health-file.")
    var path: String

    @Option(help: "Seconds since the worker last wrote the file after which it counts as stale (1 to 86400; the worker rewrites it every heartbeat, 5 s by default).")
    var maxAge: Double = 30

    @Flag(help: "Print the verdict as JSON.")
    var json = false

    func validate() throws {
        try checkRange(maxAge, "--max-age", 1.0...86_400.0)
        guard !path.isEmpty else { throw ValidationError("PATH must name the worker's health file") }
    }

    func run() async throws {
        let (code, verdict, line, health) = Self.judge(path: path, maxAge: maxAge, now: Date())
        if json {
            let object: JSON = ["verdict": .string(verdict), "message": .string(line), "health": health?.json ?? .null]
            print(String(decoding: object.serialized(.compact), as: UTF8.self))
        } else {
            print("\(verdict): \(line)")
        }
        if code != 0 { throw ExitCode(code) }
    }

    /// The exit code, verdict word, explanation and what the file said.
    static func judge(path: String, maxAge: Double, now: Date) -> (Int32, String, String, WorkerHealth?) {
        guard let data = FileManager.default.contents(atPath: path) else {
            return (2, "missing", "no health file at \(path) (the worker is not running or has no --health-file)", nil)
        }
        guard let parsed = try? JSON.parse(data), let health = WorkerHealth(json: parsed) else {
            return (2, "unreadable", "\(path) is not a worker health file", nil)
        }
        let age = now.timeIntervalSince(health.updatedAt)
        let who = "\(health.hostname) pid \(health.pid), updated \(Int(age.rounded())) s ago"
        if age > maxAge { return (2, "stale", "\(who), over --max-age \(maxAge.formatted()) s", health) }
        let facts = "broker \(health.broker ? "up" : "down"), \(health.consuming ? "consuming" : "not consuming"), redis \(health.redis ? "up" : "down")"
        switch health.status {
        case .ok: return (0, "ok", "\(facts); \(who)", health)
        case .degraded: return (1, "degraded", "\(facts); \(who)", health)
        case .stopping: return (2, "stopping", "\(facts); \(who)", health)
        }
    }
}
