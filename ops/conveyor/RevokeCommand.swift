import ArgumentParser
import Conveyor
import Foundation

struct RevokeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "revoke", abstract: "Stop tasks from running (the mark survives worker restarts); --terminate cancels running ones.")

    @OptionGroup var connection: ConnectionOptions

    @Argument(help: "Task ids.")
    var ids: [String]

    func validate() throws {
        guard !ids.contains(where: \.isEmpty) else { throw ValidationError("a task id is empty") }
    }

    @Flag(help: "Also cancel the tasks where they are running now (their subprocesses get SIGTERM).")
    var terminate = false

    func run() async throws {
        try await guarded {
            guard !ids.isEmpty else { throw CLIError("name at least one task id", exitCode: 2) }
            let client = try connection.client()
            defer { Task { await client.close() } }
            try await client.pingBackend(timeout: connection.connectTimeout)
            try await client.revoke(ids, terminate: terminate)
            if connection.json {
                connection.emit(["revoked": .array(ids.map(JSON.string)), "terminate": .bool(terminate)])
            } else {
                print("revoked \(ids.count) task\(ids.count == 1 ? "" : "s")\(terminate ? " (terminating where running)" : "")")
            }
        }
    }
}
