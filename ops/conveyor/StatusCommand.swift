import ArgumentParser
import Conveyor
import Foundation

struct StatusCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "status", abstract: "Is the broker up, is Redis up, which workers are online (Python Celery workers too, through Celery's remote control).")

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
            // Python workers have no heartbeat in Redis: they answer a pidbox `stats` broadcast.
            let known = Set(workers.map(\.hostname))
            let pythonWorkers = brokerError == nil
                ? ((try? await Fleet(client: client).celeryNodes(logger: connection.quietLogger)) ?? []).filter { !$0.isConveyor && !known.contains($0.name) } : []
            if connection.json {
                connection.emit([
                    "broker": ["url": .string(brokerText), "ok": .bool(brokerError == nil), "error": brokerError.map(JSON.string) ?? .null],
                    "results": ["url": .string(redisText), "ok": .bool(redisError == nil), "error": redisError.map(JSON.string) ?? .null],
                    "workers": redisError == nil ? .array(workers.map(WorkerView.json)) : .null,
                    "python_workers": brokerError == nil ? .array(pythonWorkers.map(WorkerView.json)) : .null,
                ])
            } else {
                print("broker   \(brokerText)  \(brokerError == nil ? "ok" : "DOWN: \(brokerError ?? "")")")
                print("results  \(redisText)  \(redisError == nil ? "ok" : "DOWN: \(redisError ?? "")")")
                // Heartbeats live in Redis: without it nothing is known about the workers.
                print(redisError == nil ? "workers  \(workers.count) online" : "workers  unknown (heartbeats are in Redis)")
                for worker in workers { print("  " + WorkerView.line(worker)) }
                if !pythonWorkers.isEmpty { print("python   \(pythonWorkers.count) online (Celery remote control)") }
                for worker in pythonWorkers { print("  " + WorkerView.line(worker)) }
            }
            if let reason = brokerError ?? redisError { throw CLIError(reason) }
        }
    }
}
