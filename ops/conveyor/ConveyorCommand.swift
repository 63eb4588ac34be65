import ArgumentParser
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
}
