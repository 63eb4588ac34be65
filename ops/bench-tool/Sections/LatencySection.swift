import Conveyor
import Histogram
import IOSupport

/// Section 3: one task at a time, enqueue → worker → result awaited, Conveyor vs Celery
/// (`delay().get()`), percentiles from HdrHistogram.
struct LatencySection {
    let bench: BenchContext

    static let percentiles: [(name: String, percentile: Double)] = [("p50", 50), ("p99", 99), ("max", 100)]

    static func plan(_ sizes: BenchSizes) -> [Row] {
        percentiles.map { name, _ in
            Row(key: "latency.conveyor.\(name)", section: "latency", label: "Conveyor call(), \(name)", unit: .milliseconds,
                count: sizes.roundTrips, celery: "latency.celery.\(name)", ceiling: "latency.ceiling.\(name)",
                note: name == "p50" ? "worker --concurrency \(EndToEndSection.conveyorConcurrency)" : nil)
        } + [
            Row(key: "latency.conveyor.confirm.p50", section: "latency", label: "  send() alone, until confirmed, p50", unit: .milliseconds,
                count: sizes.roundTrips, note: "call() waits for this confirm and the result together"),
        ] + percentiles.map { name, _ in
            Row(key: "latency.celery.\(name)", section: "latency", label: "Celery delay().get(), \(name)", unit: .milliseconds,
                count: sizes.celeryRoundTrips, ceiling: "latency.ceiling.\(name)", note: name == "p50" ? "prefork -c \(EndToEndSection.celeryConcurrency), Redis backend" : nil)
        } + percentiles.map { name, _ in
            Row(key: "latency.ceiling.\(name)", section: "latency", label: "rabbitmq-c + hiredis round trip, \(name)", unit: .milliseconds,
                count: sizes.roundTrips,
                note: name == "p50" ? "ceiling: subscribe, publish + confirm, C drain SETEX+PUBLISH, result received" : nil)
        }
    }

    func run() async {
        do {
            let (roundTrips, confirms) = try await conveyorLatencies()
            record("conveyor", roundTrips)
            bench.report.record("latency.conveyor.confirm.p50", Double(Self.histogram(confirms).valueAtPercentile(50)) / 1000)
        } catch {
            for (name, _) in Self.percentiles { bench.report.fail("latency.conveyor.\(name)", error) }
            bench.report.fail("latency.conveyor.confirm.p50", error)
        }
        do {
            record("ceiling", try await ceilingLatencies())
        } catch {
            for (name, _) in Self.percentiles { bench.report.fail("latency.ceiling.\(name)", error) }
        }
        do {
            record("celery", try await celeryLatencies())
        } catch {
            for (name, _) in Self.percentiles { bench.report.fail("latency.celery.\(name)", error) }
        }
    }

    /// Microsecond samples in an HdrHistogram (1 µs to 60 s, 3 significant digits).
    static func histogram(_ microseconds: [UInt64]) -> Histogram<UInt64> {
        var histogram = Histogram<UInt64>(highestTrackableValue: 60_000_000, numberOfSignificantValueDigits: .three)
        for value in microseconds { _ = histogram.record(max(1, value)) }
        return histogram
    }

    private func record(_ system: String, _ microseconds: [UInt64]) {
        let histogram = Self.histogram(microseconds)
        for (name, percentile) in Self.percentiles {
            let value = percentile >= 100 ? histogram.max : histogram.valueAtPercentile(percentile)
            bench.report.record("latency.\(system).\(name)", Double(value) / 1000)
        }
    }

    /// Conveyor: `call` (send, and wait for the result at the same time, as Celery's
    /// `delay().get()` subscribes first), against a running `conveyor-worker`; then `send` alone
    /// for the broker's confirm latency.
    /// - Returns: round trips and confirms, in µs.
    private func conveyorLatencies() async throws -> (roundTrips: [UInt64], confirms: [UInt64]) {
        let sizes = bench.sizes
        return try await bench.withQueue("rtt") { queue in
            let worker = try await bench.startWorker(.conveyor(concurrency: EndToEndSection.conveyorConcurrency), queue: queue,
                                                     label: "rtt-conveyor")
            var ids: [String] = []
            var latencies: [UInt64] = []
            var confirms: [UInt64] = []
            do {
                for index in 0..<(sizes.warmupRoundTrips + sizes.roundTrips) {
                    let id = TaskID.make()
                    bench.track([id])
                    ids.append(id)
                    let started = monotonicSeconds()
                    let result = try await bench.client.call(taskNamed: "conveyor.add", args: [.int(Int64(index)), 1],
                                                             options: TaskOptions(queue: queue, taskId: id), timeout: 30)
                    let elapsed = monotonicSeconds() - started
                    let value = try result.get()
                    guard value == .int(Int64(index + 1)) else { throw BenchError("conveyor.add(\(index), 1) returned \(value)") }
                    if index >= sizes.warmupRoundTrips { latencies.append(UInt64(elapsed * 1_000_000)) }
                }
                for index in 0..<sizes.roundTrips {
                    let started = monotonicSeconds()
                    let handle = try await bench.client.send(taskNamed: "conveyor.add", args: [.int(Int64(index)), 1],
                                                             options: TaskOptions(queue: queue))
                    confirms.append(UInt64((monotonicSeconds() - started) * 1_000_000))
                    bench.track([handle.id])
                    ids.append(handle.id)
                }
            } catch {
                await worker.process.stop()
                await bench.deleteResults(ids)
                throw error
            }
            await worker.process.stop()
            await bench.deleteResults(ids)
            return (latencies, confirms)
        }
    }

    /// The raw ceiling: `conveyor-ceiling roundtrip` against `conveyor-ceiling drain` (which
    /// stops after the last call), in µs.
    private func ceilingLatencies() async throws -> [UInt64] {
        let sizes = bench.sizes
        return try await bench.withQueue("rtt") { queue in
            let calls = sizes.warmupRoundTrips + sizes.roundTrips
            let worker = try await bench.startWorker(.ceiling(count: calls, echo: false), queue: queue, label: "rtt-ceiling-drain")
            do {
                let run = try await bench.runProgram("rtt-ceiling", bench.paths.ceiling,
                                                     ["roundtrip", "--queue", queue, "--count", "\(sizes.roundTrips)",
                                                      "--warmup", "\(sizes.warmupRoundTrips)", "--timeout", "300"] + bench.ceilingConnectionArguments,
                                                     as: LatencyRun.self)
                let status = try await worker.process.waitForExit(timeout: 30)
                guard status == 0 else { throw BenchError("the C drain exited \(status):\n\(worker.process.tail())") }
                guard run.latencies.count == sizes.roundTrips else { throw BenchError("the C client measured \(run.latencies.count) round trips") }
                return run.latencies
            } catch {
                await worker.process.stop(grace: 2)
                throw error
            }
        }
    }

    /// Celery: `add.apply_async(queue=…).get()` in Python against a Celery prefork worker.
    private func celeryLatencies() async throws -> [UInt64] {
        let sizes = bench.sizes
        return try await bench.withQueue("rtt") { queue in
            let worker = try await bench.startWorker(.celery(concurrency: EndToEndSection.celeryConcurrency), queue: queue,
                                                     label: "rtt-celery")
            do {
                let run = try await bench.runCeleryClient("rtt", queue: queue, count: sizes.celeryRoundTrips,
                                                          warmup: sizes.warmupRoundTrips, label: "rtt-celery-client", as: LatencyRun.self)
                await worker.process.stop()
                guard run.latencies.count == sizes.celeryRoundTrips else { throw BenchError("Celery client measured \(run.latencies.count) round trips") }
                return run.latencies
            } catch {
                await worker.process.stop()
                throw error
            }
        }
    }
}
