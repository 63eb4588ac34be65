import ArgumentParser
import CommandLineSupport
import Conveyor
import Foundation
import Logging

/// `conveyor`: see and steer queues, workers, tasks and results.
@main
struct ConveyorCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "conveyor",
        abstract: "Operate a Conveyor (Celery-compatible) task queue: workers, queues, tasks and results.",
        discussion: "Environment: CONVEYOR_BROKER_URL, CONVEYOR_RESULT_URL. Every command takes --json.",
        subcommands: [StatusCommand.self, QueuesCommand.self, CallCommand.self, ResultCommand.self, PurgeCommand.self,
                      RevokeCommand.self, DeadCommand.self, LimitCommand.self, LocksCommand.self, DiffCommand.self,
                      SearchCommand.self, CheckCommand.self, MuninCommand.self, HealthCommand.self,
                      ExporterCommand.self, TopCommand.self, EventsCommand.self, BeatCommand.self])

    /// Runs the command; bad usage exits 2 as documented, 3 (UNKNOWN) for the Nagios and Munin
    /// plugins, as monitoring plugins do.
    static func main() async {
        let plugin = ["check", "munin"].contains(CommandLine.arguments.dropFirst().first ?? "")
        await mainExitingTwoOnBadUsage(name: "conveyor", usageExitCode: plugin ? 3 : 2)
    }
}

/// A number an option may hold: inside `range` (NaN never is).
func checkRange<T: Comparable>(_ value: T?, _ option: String, _ range: ClosedRange<T>) throws {
    if let problem = OptionCheck.outside(value, option, range) { throw ValidationError(problem) }
}

/// A number of seconds to wait an option may hold: finite and above 0 (any such wait is safe:
/// sleeps clamp it to a century).
func checkSeconds(_ value: Double?, _ option: String) throws {
    guard let value else { return }
    guard value.isFinite, value > 0 else { throw ValidationError("\(option) must be a number of seconds above 0, not \(value)") }
}
