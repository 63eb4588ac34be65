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
                      RevokeCommand.self, DeadCommand.self])

    /// Runs the command; bad usage exits 2 as documented.
    static func main() async {
        await mainExitingTwoOnBadUsage(name: "conveyor")
    }
}

/// A number of seconds an option may hold: finite and not negative (zero only where `allowZero`).
func checkSeconds(_ value: Double?, _ option: String, allowZero: Bool = false) throws {
    guard let value else { return }
    guard value.isFinite, allowZero ? value >= 0 : value > 0 else {
        throw ValidationError("\(option) must be a number of seconds \(allowZero ? "of 0 or more" : "above 0"), not \(value)")
    }
}
