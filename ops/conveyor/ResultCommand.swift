import ArgumentParser
import Conveyor
import Foundation

struct ResultCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "result", abstract: "Show a task's state and result.")

    @OptionGroup var connection: ConnectionOptions

    @Argument(help: "The task id.")
    var id: String

    @Flag(help: "Wait until the task is finished.")
    var wait = false

    @Option(help: "Seconds to wait with --wait.")
    var timeout: Double = 30

    func validate() throws {
        guard !id.isEmpty else { throw ValidationError("the task id is empty") }
        try checkSeconds(timeout, "--timeout")
    }

    func run() async throws {
        try await guarded {
            let client = try connection.client()
            defer { Task { await client.close() } }
            try await client.pingBackend(timeout: connection.connectTimeout)
            let result = wait ? try await client.wait(for: id, timeout: timeout) : try await client.result(for: id)
            try Self.show(result, connection: connection)
        }
    }

    /// Prints a result; a FAILURE or REVOKED task exits non-zero after printing.
    static func show(_ result: TaskResult, connection: ConnectionOptions) throws {
        if connection.json {
            connection.emit([
                "id": .string(result.id), "state": .string(result.state.rawValue), "result": result.value,
                "traceback": result.traceback.map(JSON.string) ?? .null,
                "date_done": result.dateDone.map { .string(ISO8601.format($0)) } ?? .null,
            ])
        } else if let exception = result.exception {
            print("\(result.state)  \(exception.type): \(exception.message)")
        } else {
            print("\(result.state)  \(result.value.text(.compact))")
        }
        if result.state.propagates {
            throw ExitCode(1)
        }
    }
}
