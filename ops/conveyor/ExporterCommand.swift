import ArgumentParser
import Conveyor
import Foundation
import Logging
import MetricsEndpoint

/// `conveyor exporter`: the fleet's queue-level series for Prometheus, served once for the whole
/// deployment (a worker's `--metrics` has only its own): depth, consumers and dead letters of
/// each queue, and the workers alive by kind. Measured at each scrape, within `--timeout`.
struct ExporterCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "exporter", abstract: "Serve queue depths, consumers, dead letters and workers alive as Prometheus metrics.",
        discussion: """
            GET /metrics answers conveyor_up 1 with the series, or conveyor_up 0 alone when the broker or Redis \
            did not answer within --timeout. Oldest-message age is not reported: RabbitMQ does not tell it.
            """)

    @Option(help: "HOST:PORT to serve GET /metrics on, e.g. 127.0.0.1:9809 (port 0: any free one, printed at start).")
    var listen: String

    @Option(name: .customLong("queue"), help: "A queue to report (repeatable; default: the queues conveyor status knows).")
    var queues: [String] = []

    @OptionGroup var servers: ServerOptions

    @Option(help: "Seconds one scrape may spend asking the broker and Redis before it answers conveyor_up 0 (0.1 to 60).")
    var timeout: Double = 5

    func validate() throws {
        try checkRange(timeout, "--timeout", 0.1...60)
        if case let .failure(problem) = ListenAddress.parse(listen) { throw ValidationError("--listen: \(problem)") }
        if let bad = queues.first(where: { $0.isEmpty || $0.utf8.count > 255 }) {
            throw ValidationError("--queue must be 1 to 255 bytes, not '\(bad)'")
        }
    }

    func run() async throws {
        try await guarded {
            guard case let .success(address) = ListenAddress.parse(listen) else { return }
            var configuration = servers.configuration
            // Connecting gets most of a scrape's budget, the questions after it the rest.
            configuration.connectTimeout = timeout * 0.6
            // Reporting on a queue must not create it.
            configuration.createMissingQueues = false
            var logger = Logger(label: "conveyor.exporter")
            logger.logLevel = .critical
            let client = try ConveyorClient(configuration: configuration, name: "conveyor-exporter", logger: logger)
            let collector = FleetCollector(client: client, queues: queues, timeout: timeout, logger: logger)
            let endpoint: HTTPEndpoint
            do {
                endpoint = try await HTTPEndpoint(address: address, logger: logger) { method, path in
                    guard method == "GET" else { return .text(405, "only GET\n") }
                    guard path == "/metrics" else { return .notFound }
                    return HTTPEndpoint.Response(status: 200, contentType: GaugeSnapshot.contentType, body: await collector.scrape())
                }
            } catch {
                throw CLIError("cannot listen on \(address): \(error)")
            }
            // Unbuffered: whoever started it reads the port from this line.
            FileHandle.standardOutput.write(Data("conveyor exporter: serving http://\(endpoint.address)/metrics\n".utf8))
            // Until a signal ends the process: it holds no state worth a clean stop.
            while true { try await Task.sleep(for: .seconds(3600)) }
        }
    }
}
