import ArgumentParser
import CommandLineSupport
import Conveyor
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// `conveyor-bench`: Conveyor side by side with Python Celery 5.7 and the raw rabbitmq-c/hiredis
/// ceilings, every row measured in one run on the same RabbitMQ and Redis. Run through `ops/bench`,
/// which builds everything and passes the paths.
@main
struct BenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "conveyor-bench",
        abstract: "Benchmark Conveyor against Python Celery and the raw broker ceilings (use ops/bench).")

    /// Runs the command; bad usage exits 2 with one line, as the other binaries do.
    static func main() async {
        await mainExitingTwoOnBadUsage(name: "conveyor-bench")
    }

    @Flag(help: "Tiny sizes: checks that every row still works (ops/test).")
    var smoke = false

    @Flag(help: "Print one JSON document instead of the table.")
    var json = false

    @Option(help: "Directory holding the release conveyor-worker.")
    var binDir: String

    @Option(help: "The conveyor-ceiling C program.")
    var ceiling: String

    @Option(help: "Python with Celery 5.7 (the repository's .venv/bin/python).")
    var python: String

    @Option(help: "Directory of bench_celery.py (ops/lib).")
    var library: String

    @Option(help: "Where the logs of every started process go.")
    var logDir: String

    @Option(help: "Only these sections, comma-separated: publish,e2e,latency,footprint,scaling,repos,email,control,scale (scale: not by default).")
    var only: String?

    @Option(help: "Repetitions of the throughput rows, 1 to 1000 (default 3, smoke 1).")
    var repetitions: Int?

    @Option(help: ArgumentHelp("Extra arguments for every conveyor-worker, space-separated (experiments: --worker-args='--log-level warning').",
                               discussion: "Workers then count as ready when the broker shows their consumer, as the ready line may be hidden."))
    var workerArgs: String?

    @Option(help: "Tasks per send(batch:) call, 1 to 1000000 (default 1,000, smoke 100).")
    var batchSize: Int?

    @Flag(help: "Only the rate-limit measurement (issue 10): 4 workers × 8 under a fleet limit, then per worker.")
    var limits = false

    @Option(help: "With --limits: the limit, tasks per second (1 to 1000).")
    var limitRate = 50

    @Option(help: "With --limits: the burst (1 to 1000).")
    var limitBurst = 10

    @Option(help: "With --limits: the window measured, seconds (5 to 600).")
    var limitSeconds = 30

    func validate() throws {
        let problems = [OptionCheck.outside(repetitions, "--repetitions", 1...1000), OptionCheck.outside(batchSize, "--batch-size", 1...1_000_000),
                        OptionCheck.outside(limitRate, "--limit-rate", 1...1000), OptionCheck.outside(limitBurst, "--limit-burst", 1...1000),
                        OptionCheck.outside(limitSeconds, "--limit-seconds", 5...600)]
        if let problem = problems.compactMap({ $0 }).first { throw ValidationError(problem) }
    }

    func run() async throws {
        var sizes = smoke ? BenchSizes.smoke : BenchSizes.full
        if let repetitions { sizes.repetitions = repetitions }
        if let batchSize { sizes.batchSize = batchSize }
        // Section 9 (a 1,000,000-task backlog) runs when asked for, and tiny in the smoke run.
        let defaults = "publish,e2e,latency,footprint,scaling,repos,email,control" + (smoke ? ",scale" : "")
        let sections = Set((only ?? defaults).split(separator: ",").map(String.init))
        let known: Set = ["publish", "e2e", "latency", "footprint", "scaling", "repos", "email", "control", "scale"]
        guard sections.isSubset(of: known) else { throw ValidationError("unknown section in --only; use \(known.sorted().joined(separator: ","))") }

        try FileManager.default.createDirectory(atPath: logDir, withIntermediateDirectories: true)
        let paths = BenchPaths(binDirectory: URL(fileURLWithPath: binDir), ceiling: URL(fileURLWithPath: ceiling),
                               python: URL(fileURLWithPath: python), library: URL(fileURLWithPath: library),
                               logs: URL(fileURLWithPath: logDir),
                               workerArguments: (workerArgs ?? "").split(separator: " ").map(String.init))
        var plan = PublishSection.plan(sizes) + EndToEndSection.plan(sizes) + LatencySection.plan(sizes)
        plan += FootprintSection.plan(sizes) + ScalingSection.plan(sizes) + ReposSection.plan(sizes) + ReposIndexSection.plan(sizes)
        plan += ReposSearchSection.plan(sizes)
        plan += EmailSection.plan(sizes) + ControlSection.plan(sizes) + ScaleSection.plan(sizes)
        // Footprint-under-load rows come from the e2e runs.
        plan = plan.filter { sections.contains($0.section) || ($0.key.hasSuffix(".load") && sections.contains("e2e")) }
        let report = Report(plan: plan)
        let bench = try BenchContext(paths: paths, sizes: sizes, report: report)
        let interrupt = Self.cleanUpOnSignals(bench)
        try await bench.client.connect(timeout: 15)
        if limits {
            try await runLimits(bench)
            interrupt.forEach { $0.cancel() }
            return
        }

        let started = Date()
        let steps: [(String, () async -> Void)] = [
            ("publish", { await PublishSection(bench: bench).run() }),
            ("e2e", { await EndToEndSection(bench: bench).run() }),
            ("latency", { await LatencySection(bench: bench).run() }),
            ("footprint", { await FootprintSection(bench: bench).run() }),
            ("scaling", { await ScalingSection(bench: bench).run() }),
            ("repos", {
                await ReposSection(bench: bench).run()
                await ReposIndexSection(bench: bench).run()
                await ReposSearchSection(bench: bench).run()
            }),
            ("email", { await EmailSection(bench: bench).run() }),
            ("control", { await ControlSection(bench: bench).run() }),
            ("scale", { await ScaleSection(bench: bench).run() }),
        ]
        for (name, step) in steps where sections.contains(name) {
            progress("\(name)...")
            let before = Date()
            await step()
            progress(String(format: "%@ done in %.0f s", name, Date().timeIntervalSince(before)))
        }
        await bench.cleanUp()
        interrupt.forEach { $0.cancel() }

        let rows = report.finished
        let outcomes = (Target.issue4 + Target.issue12 + Target.issue15).map { $0.evaluate(rows) }
        let summary = RunSummary(smoke: smoke, sizes: sizes, bench: bench, seconds: Date().timeIntervalSince(started))
        if json {
            print(try summary.json(rows: rows, outcomes: outcomes))
        } else {
            print(Table.render(rows, outcomes: outcomes, header: summary.header, footnotes: summary.footnotes), terminator: "")
        }
        let failures = report.failures
        if !failures.isEmpty {
            for row in failures { progress("FAILED \(row.key): \(row.error ?? "")") }
            throw ExitCode.failure
        }
    }

    /// `--limits`: the rate-limit measurement alone, with its own report.
    private func runLimits(_ bench: BenchContext) async throws {
        let section = LimitsSection(bench: bench, rate: limitRate, burst: limitBurst, seconds: limitSeconds)
        progress("limits: \(limitRate)/s burst \(limitBurst), \(limitSeconds) s, fleet then per worker...")
        let outcomes: [LimitsSection.Outcome]
        do {
            outcomes = try await section.run()
        } catch {
            await bench.cleanUp()
            throw error
        }
        await bench.cleanUp()
        print(json ? section.json(outcomes).text(.compact) : section.render(outcomes), terminator: json ? "\n" : "")
    }

    private func progress(_ text: String) {
        FileHandle.standardError.write(Data("bench: \(text)\n".utf8))
    }

    /// On SIGINT or SIGTERM: kill every started process, delete this run's queues, exit 130.
    private static func cleanUpOnSignals(_ bench: BenchContext) -> [DispatchSourceSignal] {
        [SIGINT, SIGTERM].map { number in
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler {
                FileHandle.standardError.write(Data("bench: interrupted; stopping workers and deleting bench queues\n".utf8))
                BenchProcess.killAll()
                Task {
                    await bench.cleanUp()
                    BenchProcess.killAll()
                    Glibc.exit(130)
                }
            }
            source.resume()
            return source
        }
    }
}
