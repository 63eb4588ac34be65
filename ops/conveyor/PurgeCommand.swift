import ArgumentParser
import Conveyor
import Foundation

struct PurgeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "purge", abstract: "Delete every waiting message in a queue.")

    @OptionGroup var connection: ConnectionOptions

    @Argument(help: "The queue to purge.")
    var queue: String

    @Flag(help: "Confirm: the messages are gone for good.")
    var yes = false

    func run() async throws {
        try await guarded {
            guard yes else { throw CLIError("refusing to purge '\(queue)' without --yes (the messages cannot be recovered)", exitCode: 2) }
            let client = try connection.client()
            defer { Task { await client.close() } }
            try await client.connectBroker(timeout: connection.connectTimeout)
            let removed = try await Fleet(client: client).purge(queue)
            if connection.json {
                connection.emit(["queue": .string(queue), "purged": .int(Int64(removed))])
            } else {
                print("purged \(removed) message\(removed == 1 ? "" : "s") from \(queue)")
            }
        }
    }
}
