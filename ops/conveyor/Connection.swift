import ArgumentParser
import Conveyor
import Foundation
import Logging

/// Where the broker and Redis are: the environment's configuration, unless these say otherwise.
/// Every command that connects takes them (`ConnectionOptions`, `PluginOptions`, the exporter).
struct ServerOptions: ParsableArguments {
    @Option(help: "Broker URL(s); overrides CONVEYOR_BROKER_URL.")
    var broker: String?

    @Option(help: "Result store URL; overrides CONVEYOR_RESULT_URL.")
    var resultBackend: String?

    /// `CONVEYOR_*` from the environment with the URLs given here in their place.
    var configuration: ConveyorConfiguration {
        var configuration = ConveyorConfiguration.fromEnvironment()
        if let broker { configuration.brokerURL = broker }
        if let resultBackend { configuration.resultURL = resultBackend }
        return configuration
    }
}

/// Options every command shares.
struct ConnectionOptions: ParsableArguments {
    @OptionGroup var servers: ServerOptions

    @Option(help: "classic or quorum: how queues are declared when created (default CONVEYOR_QUEUE_TYPE or classic).")
    var queueType: String?

    @Option(help: "Seconds to wait for the broker and Redis before giving up (0.001 to 86400).")
    var connectTimeout: Double = 5

    @Flag(help: "Print machine-readable JSON on standard output.")
    var json = false

    func validate() throws {
        try checkRange(connectTimeout, "--connect-timeout", ConveyorConfiguration.timeouts)
    }

    var configuration: ConveyorConfiguration {
        var configuration = servers.configuration
        configuration.connectTimeout = connectTimeout
        if let queueType, let type = QueueType(rawValue: queueType) { configuration.queueType = type }
        return configuration
    }

    /// The library's logging kept to critical errors, so output stays readable.
    var quietLogger: Logger {
        var logger = Logger(label: "conveyor.cli")
        logger.logLevel = .critical
        return logger
    }

    /// A client, with library logging kept to errors so output stays readable.
    func client(createMissingQueues: Bool = true) throws -> ConveyorClient {
        if let queueType, QueueType(rawValue: queueType) == nil { throw CLIError("--queue-type must be classic or quorum", exitCode: 2) }
        var configuration = self.configuration
        configuration.createMissingQueues = createMissingQueues
        do {
            return try ConveyorClient(configuration: configuration, name: "conveyor-cli", logger: quietLogger)
        } catch {
            throw CLIError(error)
        }
    }

    /// Prints `value` as one JSON line.
    func emit(_ value: JSON) {
        print(value.text(.compact))
    }
}

/// A failure the CLI reports as one line on standard error with a non-zero exit.
struct CLIError: Error, CustomStringConvertible {
    let message: String
    let exitCode: Int32

    init(_ message: String, exitCode: Int32 = 1) {
        self.message = message
        self.exitCode = exitCode
    }

    init(_ error: any Error) {
        if let error = error as? CLIError {
            self = error
        } else if let error = error as? ConveyorError {
            var message = error.message
            // The local servers of a development machine, not running: say how to start them.
            let local = ["127.0.0.1", "localhost", "[::1]"].contains { message.contains($0) }
            if [.brokerUnavailable, .backendUnavailable].contains(error.code), local, message.contains("Connection refused") {
                message += " (start it with: ops/services up)"
            }
            self.init(message, exitCode: error.code == .invalidConfiguration || error.code == .invalidArguments ? 2 : 1)
        } else {
            self.init("\(error)")
        }
    }

    var description: String { message }
}

/// Runs a command body, turning every failure into `conveyor: <reason>` and an exit code.
func guarded(_ body: () async throws -> Void) async throws {
    do {
        try await body()
    } catch let error as ExitCode {
        throw error
    } catch let error as ValidationError {
        throw error
    } catch {
        let failure = CLIError(error)
        FileHandle.standardError.write(Data("conveyor: \(failure.message)\n".utf8))
        throw ExitCode(failure.exitCode)
    }
}

/// Parses a JSON option, naming the option in the error.
func parseJSON(_ text: String, option: String) throws -> JSON {
    do {
        return try JSON.parse(text)
    } catch {
        throw CLIError("\(option) is not valid JSON: \(error)", exitCode: 2)
    }
}
