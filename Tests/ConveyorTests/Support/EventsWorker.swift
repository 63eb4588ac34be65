import Foundation
import TestSupport
#if canImport(Glibc)
import Glibc
#endif

/// The real `conveyor-worker` with task events on (`-E`), consuming `queue` as `node`, once its
/// remote control listens (from then on its events reach a receiver bound to `celeryev`).
func startEventsWorker(queue: String, node: String) async throws -> ManagedProcess {
    let environment = ["CONVEYOR_BROKER_URL": TestEnvironment.brokerURL, "CONVEYOR_RESULT_URL": TestEnvironment.resultURL]
    let worker = try ManagedProcess(try TestEnvironment.requireBinary("conveyor-worker"),
                                    ["--queues", queue, "--hostname", node, "-E", "--concurrency", "2"],
                                    environment: environment, name: "events-worker")
    do {
        try await worker.waitForLog("remote control listening", timeout: hangGuard)
    } catch {
        worker.signal(SIGKILL)
        throw error
    }
    return worker
}

/// A command-line tool the test drives (tmux), or a failure naming how to install it.
func requireTool(_ name: String, package: String) throws -> URL {
    for directory in ["/usr/bin", "/usr/local/bin", "/bin"] {
        let url = URL(fileURLWithPath: directory).appendingPathComponent(name)
        if FileManager.default.isExecutableFile(atPath: url.path) { return url }
    }
    throw MissingService("\(name) is not installed — install it with: apt-get install \(package) (ops/test does)")
}
