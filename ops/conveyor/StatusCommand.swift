import ArgumentParser
import Conveyor
import Foundation

struct StatusCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "status", abstract: "Is the broker up, is Redis up, which workers are online.")

    @OptionGroup var connection: ConnectionOptions

    func run() async throws {
        try await guarded {
            let client = try connection.client()
            defer { Task { await client.close() } }
            let configuration = connection.configuration
            let brokerText = (try? configuration.brokerEndpoints().map(\.description).joined(separator: ",")) ?? configuration.redactedBrokerURL
            let redisText = (try? configuration.resultEndpoint().description) ?? configuration.redactedResultURL
            var brokerError: String?
            var redisError: String?
            do { try await client.connect(timeout: connection.connectTimeout) } catch let error as ConveyorError {
                if error.code == .brokerUnavailable { brokerError = error.message } else { redisError = error.message }
            }
            if brokerError != nil, redisError == nil {
                do { try await client.pingBackend(timeout: connection.connectTimeout) } catch { redisError = "\(error)" }
            }
            let workers = redisError == nil ? ((try? await Fleet(client: client).workers()) ?? []) : []
            if connection.json {
                connection.emit([
                    "broker": ["url": .string(brokerText), "ok": .bool(brokerError == nil), "error": brokerError.map(JSON.string) ?? .null],
                    "results": ["url": .string(redisText), "ok": .bool(redisError == nil), "error": redisError.map(JSON.string) ?? .null],
                    "workers": redisError == nil ? .array(workers.map(WorkerView.json)) : .null,
                ])
            } else {
                print("broker   \(brokerText)  \(brokerError == nil ? "ok" : "DOWN: \(brokerError ?? "")")")
                print("results  \(redisText)  \(redisError == nil ? "ok" : "DOWN: \(redisError ?? "")")")
                // Heartbeats live in Redis: without it nothing is known about the workers.
                print(redisError == nil ? "workers  \(workers.count) online" : "workers  unknown (heartbeats are in Redis)")
                for worker in workers { print("  " + WorkerView.line(worker)) }
            }
            if let reason = brokerError ?? redisError { throw CLIError(reason) }
        }
    }
}
