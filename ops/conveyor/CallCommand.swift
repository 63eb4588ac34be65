import ArgumentParser
import Conveyor
import Foundation

struct CallCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "call", abstract: "Send a task; with --wait, print its result.")

    @OptionGroup var connection: ConnectionOptions

    @Argument(help: "The task name, e.g. conveyor.add.")
    var task: String

    @Option(help: "Positional arguments as a JSON array, e.g. '[2, 3]'.")
    var args: String = "[]"

    @Option(help: "Keyword arguments as a JSON object, e.g. '{\"x\": 2}'.")
    var kwargs: String = "{}"

    @Option(help: "Queue to send to (default: the configured default queue).")
    var queue: String?

    @Option(help: "Run no sooner than this many seconds from now (0 to 268435455, the delay cascade's reach).")
    var countdown: Double?

    @Flag(help: "Create the queue if it does not exist (otherwise a missing queue is an error).")
    var createQueue = false

    @Flag(help: "Wait for the result and print it.")
    var wait = false

    @Option(help: "Seconds to wait with --wait.")
    var timeout: Double = 30

    func validate() throws {
        guard !task.trimmingCharacters(in: .whitespaces).isEmpty else { throw ValidationError("the task name is empty") }
        try checkRange(countdown, "--countdown", 0...Double(DelayedDelivery.maxDelay))
        try checkSeconds(timeout, "--timeout")
    }

    func run() async throws {
        try await guarded {
            guard case let .array(positional) = try parseJSON(args, option: "--args") else {
                throw CLIError("--args must be a JSON array, e.g. '[2, 3]'", exitCode: 2)
            }
            guard case let .object(keywords) = try parseJSON(kwargs, option: "--kwargs") else {
                throw CLIError("--kwargs must be a JSON object, e.g. '{\"x\": 2}'", exitCode: 2)
            }
            let client = try connection.client(createMissingQueues: createQueue)
            defer { Task { await client.close() } }
            if wait { try await client.connect(timeout: connection.connectTimeout) } else {
                try await client.connectBroker(timeout: connection.connectTimeout)
            }
            let handle = try await client.send(taskNamed: task, args: positional, kwargs: keywords,
                                               options: TaskOptions(queue: queue, countdown: countdown))
            guard wait else {
                if connection.json { connection.emit(["id": .string(handle.id), "task": .string(task)]) } else { print(handle.id) }
                return
            }
            let result = try await handle.wait(timeout: timeout)
            try ResultCommand.show(result, connection: connection)
        }
    }
}
