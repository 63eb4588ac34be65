import Foundation
import IOSupport

/// A worker process started by the bench and the moment it said it was consuming.
struct StartedWorker: Sendable {
    let process: BenchProcess
    /// When it printed its ready line.
    let readyAt: Instant
    /// Its node name for remote control (`celery inspect -d NODE`); empty for the C ceiling.
    var node = ""

    /// Seconds from spawn to ready.
    var startSeconds: Double { readyAt.monotonic - process.spawnedAt }
}

/// The three kinds of consumer the end-to-end rows compare.
enum WorkerKind: Sendable {
    /// The `conveyor-worker` release binary, as operators run it (default log level), with
    /// `--loops` when `loops` is more than 1.
    case conveyor(concurrency: Int, loops: Int = 1)
    /// `celery worker -P prefork -c N` running bench_celery's equivalent tasks.
    case celery(concurrency: Int)
    /// The C program: consume, pipelined SETEX + PUBLISH, ack; stops after `count` tasks.
    case ceiling(count: Int, echo: Bool)

    /// The line each prints once it consumes.
    var readyLine: String {
        switch self {
        case .conveyor: return "worker ready"
        case .celery: return " ready."
        case .ceiling: return "consuming"
        }
    }
}

extension BenchContext {
    /// Starts a consumer of `queue` and waits until it is ready (at most 60 s).
    func startWorker(_ kind: WorkerKind, queue: String, label: String) async throws -> StartedWorker {
        let process: BenchProcess
        var node = ""
        switch kind {
        case let .conveyor(concurrency, loops):
            node = workerName("conveyor")
            process = try BenchProcess(
                name: label, executable: paths.worker.path,
                arguments: ["--queues", queue, "--concurrency", "\(concurrency)", "--hostname", node,
                            "--grace-period", "5"] + (loops > 1 ? ["--loops", "\(loops)"] : []) + paths.workerArguments,
                log: log(label))
        case let .celery(concurrency):
            node = workerName("celery")
            // Mingle and gossip talk to every other Celery worker on this shared broker; without
            // them Celery also starts faster, so this favours Celery. INFO prints the ready line.
            process = try BenchProcess(
                name: label, executable: paths.python.path,
                arguments: ["-m", "celery", "-A", "bench_celery", "worker", "-P", "prefork", "-c", "\(concurrency)", "-Q", queue,
                            "-n", node, "--without-mingle", "--without-gossip", "--loglevel", "INFO"],
                environment: pythonEnvironment, log: log(label))
        case let .ceiling(count, echo):
            process = try BenchProcess(
                name: label, executable: paths.ceiling.path,
                arguments: ["drain", "--queue", queue, "--count", "\(count)", "--timeout", "300"] + ceilingConnectionArguments
                    + (echo ? ["--echo"] : []),
                log: log(label), standardOutput: log(label + ".out"))
        }
        do {
            if case .conveyor = kind, !paths.workerArguments.isEmpty {
                // Extra arguments may hide the ready line (--log-level): the broker's view decides.
                return StartedWorker(process: process, readyAt: try await waitForConsumer(on: queue, process: process), node: node)
            }
            let readyAt = try await process.waitForLine(containing: kind.readyLine, timeout: 60)
            return StartedWorker(process: process, readyAt: readyAt, node: node)
        } catch {
            await process.stop(grace: 2)
            throw error
        }
    }
}

extension BenchContext {
    /// Waits until the broker reports a consumer on `queue`.
    private func waitForConsumer(on queue: String, process: BenchProcess) async throws -> Instant {
        let deadline = monotonicSeconds() + 60
        while monotonicSeconds() < deadline {
            if try await client.brokerConnection.inspect(queue: queue).consumerCount > 0 { return Instant() }
            if let status = process.exitStatus { throw BenchError("\(process.name) exited with status \(status):\n\(process.tail())") }
            try await Task.sleep(for: .milliseconds(5))
        }
        throw BenchError("no consumer on \(queue) within 60 s:\n\(process.tail())")
    }
}
