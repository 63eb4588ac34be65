import Conveyor
import Foundation

/// What `bench_celery.py ping` prints.
struct PingRun: Decodable, Sendable {
    var latencies: [UInt64]
    var answered: Int
    /// Tasks `celery inspect active` showed running once the pings were done.
    var busyAfter: Int

    enum CodingKeys: String, CodingKey {
        case latencies = "latencies_us", answered, busyAfter = "busy_after"
    }
}

/// `celery inspect ping -d NODE -t 1` against a worker whose every slot runs a sleep task, as
/// operators' monitoring does it: `app.control.inspect(destination=[node], timeout=1).ping()` in
/// a loop from one Python process (Celery 5.7), the Swift worker and then a Python prefork worker
/// under the same load.
struct ControlSection {
    let bench: BenchContext

    /// Task slots of either worker, all kept busy while the pings run.
    static let slots = 4
    /// Each load task's sleep; the queue holds enough of them to outlast pings that time out.
    static let sleepSeconds = 2.0
    /// The ping's reply timeout, seconds (`celery inspect ping -t 1`).
    static let timeout = 1.0

    static func plan(_ sizes: BenchSizes) -> [Row] {
        ["conveyor", "celery"].flatMap { system in
            let who = system == "conveyor" ? "Conveyor worker" : "Celery worker"
            return [
                Row(key: "control.\(system).p50", section: "control", label: "inspect ping, \(who) busy, p50", unit: .milliseconds,
                    count: sizes.pings, celery: system == "conveyor" ? "control.celery.p50" : nil,
                    note: "\(slots) slots each running conveyor.sleep(\(sleepSeconds)); one Python client"),
                Row(key: "control.\(system).p99", section: "control", label: "inspect ping, \(who) busy, p99", unit: .milliseconds,
                    count: sizes.pings, celery: system == "conveyor" ? "control.celery.p99" : nil),
                Row(key: "control.\(system).answered", section: "control", label: "  pings answered within \(Int(timeout)) s",
                    unit: .count, count: sizes.pings),
            ]
        }
    }

    func run() async {
        for (system, kind) in [("conveyor", WorkerKind.conveyor(concurrency: Self.slots)), ("celery", .celery(concurrency: Self.slots))] {
            do {
                let run = try await measure(kind, system: system)
                let histogram = LatencySection.histogram(run.latencies)
                bench.report.record("control.\(system).p50", Double(histogram.valueAtPercentile(50)) / 1000)
                bench.report.record("control.\(system).p99", Double(histogram.valueAtPercentile(99)) / 1000)
                bench.report.record("control.\(system).answered", Double(run.answered))
                if run.busyAfter < Self.slots {
                    bench.report.annotate("control.\(system).p50", "only \(run.busyAfter) slots busy after the pings")
                }
            } catch {
                for name in ["p50", "p99", "answered"] { bench.report.fail("control.\(system).\(name)", error) }
            }
        }
    }

    /// Starts the worker, fills its slots (and its prefetch) with sleep tasks, and pings it.
    private func measure(_ kind: WorkerKind, system: String) async throws -> PingRun {
        let pings = bench.sizes.pings
        return try await bench.withQueue("control") { queue in
            let worker = try await bench.startWorker(kind, queue: queue, label: "control-\(system)")
            var ids: [String] = []
            do {
                // Enough load to keep every slot busy for the pings' worst case (each timing out).
                let count = Self.slots * (Int(Double(pings) * Self.timeout / Self.sleepSeconds) + 4)
                let requests = (0..<count).map { _ in
                    ConveyorClient.Request(name: "conveyor.sleep", args: [.double(Self.sleepSeconds)], options: TaskOptions(queue: queue))
                }
                for outcome in await bench.client.send(batch: requests) { ids.append(try outcome.get().id) }
                bench.track(ids)
                let script = bench.paths.library.appendingPathComponent("bench_celery.py")
                let run = try await bench.runProgram(
                    "control-\(system)-client", bench.paths.python,
                    [script.path, "ping", "--node", worker.node, "--slots", "\(Self.slots)", "--count", "\(pings)",
                     "--timeout", "\(Self.timeout)"],
                    environment: bench.pythonEnvironment, timeout: 120 + Double(pings) * Self.timeout * 3, as: PingRun.self)
                guard run.latencies.count == pings else { throw BenchError("the ping client measured \(run.latencies.count) calls, not \(pings)") }
                await worker.process.stop()
                await bench.deleteResults(ids)
                return run
            } catch {
                await worker.process.stop()
                await bench.deleteResults(ids)
                throw error
            }
        }
    }
}
