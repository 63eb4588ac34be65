/// Section 4: how long a worker takes from process start to consuming, and how much memory it
/// holds idle and under load (the load rows come from section 2's runs).
struct FootprintSection {
    let bench: BenchContext

    static func plan(_ sizes: BenchSizes) -> [Row] {
        let conveyor = "Conveyor worker (--concurrency \(EndToEndSection.conveyorConcurrency))"
        let celery = "Celery worker -c \(EndToEndSection.celeryConcurrency)"
        return [
            Row(key: "footprint.conveyor.ready", section: "footprint", label: "\(conveyor): start to ready", unit: .seconds,
                celery: "footprint.celery.ready", note: "spawn until the 'worker ready' line"),
            Row(key: "footprint.celery.ready", section: "footprint", label: "\(celery): start to ready", unit: .seconds,
                note: "spawn until the 'ready.' line (without mingle/gossip)"),
            Row(key: "footprint.conveyor.idle", section: "footprint", label: "\(conveyor): idle RSS", unit: .megabytes,
                celery: "footprint.celery.idle", note: "VmRSS \(sizes.idleSettle) s after ready"),
            Row(key: "footprint.celery.idle", section: "footprint", label: "\(celery): idle RSS", unit: .megabytes,
                note: "sum of VmRSS: main process + 2 pool children"),
            Row(key: "footprint.conveyor.load", section: "footprint", label: "\(conveyor): peak RSS under load", unit: .megabytes,
                celery: "footprint.celery.load", note: "sampled every 100 ms during section 2"),
            Row(key: "footprint.celery.load", section: "footprint", label: "\(celery): peak RSS under load", unit: .megabytes,
                note: "summed over the process tree"),
        ]
    }

    func run() async {
        for repetition in 1...bench.sizes.footprintRepetitions {
            await measure("conveyor", .conveyor(concurrency: EndToEndSection.conveyorConcurrency), repetition: repetition)
            await measure("celery", .celery(concurrency: EndToEndSection.celeryConcurrency), repetition: repetition)
        }
    }

    private func measure(_ system: String, _ kind: WorkerKind, repetition: Int) async {
        do {
            try await bench.withQueue("idle") { queue in
                let worker = try await bench.startWorker(kind, queue: queue, label: "footprint-\(system)-\(repetition)")
                bench.report.record("footprint.\(system).ready", worker.startSeconds)
                try? await Task.sleep(for: .milliseconds(Int(bench.sizes.idleSettle * 1000)))
                let members = ProcessMemory.tree(of: worker.process.pid)
                bench.report.record("footprint.\(system).idle", ProcessMemory.residentMegabytes(members))
                if case .celery = kind, members.count < 3 {
                    bench.report.annotate("footprint.celery.idle", "only \(members.count) processes found")
                }
                await worker.process.stop()
            }
        } catch {
            bench.report.fail("footprint.\(system).ready", error)
            bench.report.fail("footprint.\(system).idle", error)
        }
    }
}
