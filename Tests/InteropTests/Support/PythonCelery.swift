import Conveyor
import Foundation
import TestSupport
#if canImport(Glibc)
import Glibc
#endif

/// Where the interop Python scripts and the Celery worker module live.
let pythonDirectory = TestEnvironment.repoRoot.appendingPathComponent("Tests/InteropTests/python").path

/// Runs `python/<script>` and returns the JSON it printed on its one `RESULT ` line. `timeout` is a
/// hang guard for the whole script, whose every wait is guarded by `interop.HANG_GUARD`.
func runPython(_ script: String, _ arguments: [String], timeout: Double = 600) async throws -> JSON {
    let output = try await PythonScript.run(script, arguments, environment: ["PYTHONPATH": pythonDirectory], timeout: timeout)
    return try pythonResult(output, script: script)
}

/// The JSON after the `RESULT ` marker in a script's output (Celery logs around it).
func pythonResult(_ output: String, script: String) throws -> JSON {
    let marker = "RESULT "
    guard let line = output.split(separator: "\n").last(where: { $0.hasPrefix(marker) }) else {
        throw PythonFailed("\(script) printed no \(marker)line:\n\(output)")
    }
    return try JSON.parse(String(line.dropFirst(marker.count)))
}

/// A real Python Celery 5.7 worker (`celery -A pytasks worker`, solo pool) consuming one queue.
final class PythonWorker: Sendable {
    let process: ManagedProcess
    let queue: String

    /// Starts the worker and returns once Celery logged that it is ready.
    /// - Parameter environment: added to the worker's (e.g. `CONVEYOR_QUEUE_MAX_PRIORITY`).
    init(queue: String, module: String = "pytasks", environment: [String: String] = [:]) async throws {
        try TestEnvironment.requirePython()
        self.queue = queue
        process = try ManagedProcess(
            URL(fileURLWithPath: TestEnvironment.python),
            ["-m", "celery", "-A", module, "worker", "-Q", queue, "-c", "1", "-P", "solo", "--without-gossip", "--without-mingle",
             "--without-heartbeat", "-n", "py-\(queue)@%h", "--loglevel", "INFO"],
            environment: ["PYTHONPATH": pythonDirectory, "PYTHONUNBUFFERED": "1"].merging(environment) { $1 }, name: "celery-\(queue)")
        do {
            try await process.waitForLog(" ready.", timeout: 120)
        } catch {
            process.signal(SIGKILL)
            throw error
        }
    }

    /// Warm shutdown (SIGTERM); throws if Celery does not exit cleanly in time (it is then killed).
    func stop() async throws {
        process.signal(SIGTERM)
        let status = try await process.waitForExit(timeout: 60)
        guard status == 0 else { throw PythonFailed("Celery worker on \(queue) exited with \(status) after SIGTERM") }
    }
}

/// Runs `body` with a Python worker on `queue`, stopping it afterwards whether `body` threw or not.
func withPythonWorker<T>(queue: String, environment: [String: String] = [:], _ body: () async throws -> T) async throws -> T {
    let worker = try await PythonWorker(queue: queue, environment: environment)
    let value: T
    do {
        value = try await body()
    } catch {
        try? await worker.stop()
        throw PythonWorkerContext(error: error, log: worker.process.log)
    }
    do {
        try await worker.stop()
    } catch {
        throw PythonWorkerContext(error: error, log: worker.process.log)
    }
    return value
}

/// Runs `body` with an in-process Swift worker (diagnostic tasks registered) on `queue`.
func withSwiftWorker<T>(queue: String, _ body: () async throws -> T) async throws -> T {
    let worker = try await TestWorker(queue: queue)
    do {
        let value = try await body()
        try await worker.stop()
        return value
    } catch {
        try? await worker.stop()
        throw error
    }
}

/// Runs `body` with a client whose default queue is `queue`, closing it afterwards.
func withClient<T>(queue: String, _ body: (ConveyorClient) async throws -> T) async throws -> T {
    let client = try testClient(queue: queue)
    do {
        let value = try await body(client)
        await client.close()
        return value
    } catch {
        await client.close()
        throw error
    }
}

/// A failure while a Python worker ran, with the end of its log (the first place to look).
struct PythonWorkerContext: Error, CustomStringConvertible {
    let error: any Error
    let log: String
    var description: String { "\(error)\n--- Python worker log (tail) ---\n\(log.suffix(4000))" }
}
