import Conveyor
import Foundation
import Synchronization
import TestSupport

/// Celery's own command line (`celery inspect …`, `celery control …`) from the test venv, run
/// through `Tests/InteropTests/python/celery_cli.py` (which only points it at the test broker).
/// - Returns: Celery's exit status and the JSON it printed with `--json` (nil when none).
func celeryCLI(_ arguments: [String]) async throws -> (status: Int32, json: JSON?) {
    try TestEnvironment.requirePython()
    let directory = TestEnvironment.repoRoot.appendingPathComponent("Tests/InteropTests/python")
    let process = try ManagedProcess(URL(fileURLWithPath: TestEnvironment.python),
                                     [directory.appendingPathComponent("celery_cli.py").path] + arguments,
                                     environment: ["PYTHONPATH": directory.path, "PYTHONUNBUFFERED": "1"],
                                     name: "celery-\(arguments.prefix(2).joined(separator: "-"))")
    let status = try await process.waitForExit(timeout: hangGuard)
    let line = process.log.split(separator: "\n").last { $0.hasPrefix("{") || $0.hasPrefix("[") }
    return (status, try line.map { try JSON.parse(String($0)) })
}

/// `celery inspect COMMAND -d NODE --json`: the node's reply (nil when it did not answer). Celery
/// stops waiting at the first reply from the one node named, so the timeout is a hang guard.
func inspect(_ command: String, _ arguments: [String] = [], node: String, timeout: String = "30") async throws -> JSON? {
    let (_, json) = try await celeryCLI(["inspect", command] + arguments + ["-d", node, "-t", timeout, "--json"])
    return json?[node]
}

/// `celery control COMMAND ARGS -d NODE --json`: the node's reply (nil when it did not answer).
func control(_ command: String, _ arguments: [String] = [], node: String) async throws -> JSON? {
    let (_, json) = try await celeryCLI(["control", command] + arguments + ["-d", node, "-t", "30", "--json"])
    // `control` prints a list of {node: reply}.
    return json?.array?.compactMap { $0[node] }.first
}

/// Task bodies that wait on a gate and count how many have started: the test waits for the
/// count (an event), never for a duration.
final class GatedTasks: Sendable {
    static let name = "test.gated"
    let gate = Gate()
    private let started = Mutex(0)
    var startedCount: Int { started.withLock { $0 } }

    func register(_ registry: inout TaskRegistry) {
        registry.register(Self.name) { [self] _ in
            started.withLock { $0 += 1 }
            try await gate.wait()
            return "opened"
        }
    }
}
