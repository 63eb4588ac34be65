import ArgumentParser
import Conveyor
import Foundation
import Logging

/// `conveyor-chaos`: the fault-injection suite. Each scenario enqueues tasks with unique ids,
/// injects a fault while they run, heals it, drains, and checks every confirmed task ended as a
/// stored final state or a dead letter with a reason. Prints a table and `N passed, N failed`.
@main
struct ChaosCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "conveyor-chaos",
                                                    abstract: "Fault-injection suite on private RabbitMQ/Redis instances.",
                                                    subcommands: [LockHolderCommand.self, LockLatencyCommand.self])

    @Flag(help: "Small loads (what ops/test runs).")
    var quick = false

    @Option(name: .customLong("scenario"), help: "Run only these scenarios (repeatable).")
    var only: [String] = []

    @Flag(help: "Print the results as JSON too.")
    var json = false

    @Option(help: "Log the runner's own clients at this level to standard error (logfmt), e.g. info while investigating a scenario.")
    var logLevel = "critical"

    func run() async throws {
        guard let level = Logger.Level(rawValue: logLevel.lowercased()) else { throw ValidationError("unknown log level '\(logLevel)'") }
        LogfmtLogHandler.bootstrap(level: level)
        let root = URL(fileURLWithPath: FileManager.default.currentDirectoryPath)
        let binary = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("conveyor-worker")
        guard FileManager.default.isExecutableFile(atPath: binary.path) else { throw ChaosError("no conveyor-worker next to \(CommandLine.arguments[0])") }
        let infrastructure = try Infrastructure(root: root)
        let context = ScenarioContext(infrastructure: infrastructure, workerBinary: binary, quick: quick, logger: Logger(label: "chaos"))
        let selected = only.isEmpty ? Scenarios.all : Scenarios.all.filter { only.contains($0.name) }
        guard !selected.isEmpty else { throw ChaosError("no scenario named \(only.joined(separator: ", "))") }

        try await infrastructure.run("cleanup")
        try await infrastructure.run("rabbit-start", "chaos1", "\(ScenarioContext.brokerPort)", "25681")
        try await infrastructure.run("redis-start", "\(ScenarioContext.redisPort)")
        var rows: [(Scenario, Result<Verdict, Error>, Double)] = []
        for scenario in selected {
            FileHandle.standardError.write(Data("chaos: \(scenario.name): \(scenario.summary)\n".utf8))
            let started = Date()
            let outcome: Result<Verdict, Error>
            do {
                outcome = .success(try await scenario.run(context))
            } catch {
                outcome = .failure(error)
            }
            rows.append((scenario, outcome, Date().timeIntervalSince(started)))
            // Every scenario starts from healthy servers.
            try? await infrastructure.run("rabbit-start", "chaos1", "\(ScenarioContext.brokerPort)", "25681")
            try? await infrastructure.run("redis-start", "\(ScenarioContext.redisPort)")
        }
        try? await infrastructure.run("cleanup")
        Report.print(rows, json: json)
        let failed = rows.filter { (try? $0.1.get().passed) != true }.count
        print("\(rows.count - failed) passed, \(failed) failed")
        if failed > 0 { throw ExitCode.failure }
    }
}
