import ArgumentParser
import Conveyor
import Foundation
import Logging

/// A Nagios plugin's state, with the exit code the monitoring-plugins guidelines give it.
enum PluginStatus: Int32, Comparable {
    case ok = 0, warning = 1, critical = 2, unknown = 3

    var label: String {
        switch self {
        case .ok: "OK"
        case .warning: "WARNING"
        case .critical: "CRITICAL"
        case .unknown: "UNKNOWN"
        }
    }

    /// The worse of two states as plugins rank them: CRITICAL over WARNING over OK; UNKNOWN only
    /// when nothing was measured, so it ranks below CRITICAL and above WARNING here.
    private var severity: Int {
        switch self {
        case .ok: 0
        case .warning: 1
        case .unknown: 2
        case .critical: 3
        }
    }

    static func < (lhs: PluginStatus, rhs: PluginStatus) -> Bool { lhs.severity < rhs.severity }
}

/// One plugin answer: `SERVICE STATUS - text | perfdata`.
struct PluginResult: Sendable {
    var status: PluginStatus
    var text: String
    var perfdata: [String] = []

    func line(service: String) -> String {
        let head = "\(service) \(status.label) - \(text)"
        return perfdata.isEmpty ? head : head + " | " + perfdata.joined(separator: " ")
    }
}

/// One perfdata item, `'label'=value[uom];warn;crit;min;max`, empty fields left empty.
func perfdata(_ label: String, _ value: String, warn: String = "", crit: String = "", min: String = "0") -> String {
    "'\(label.replacingOccurrences(of: "'", with: "''"))'=\(value);\(warn);\(crit);\(min);"
}

/// Options every check takes: where the servers are, and the bound on the whole answer.
struct PluginOptions: ParsableArguments {
    @Option(help: "Broker URL(s); overrides CONVEYOR_BROKER_URL.")
    var broker: String?

    @Option(help: "Result store URL; overrides CONVEYOR_RESULT_URL.")
    var resultBackend: String?

    @Option(help: "Seconds the whole check may take before it answers UNKNOWN (0.1 to 60).")
    var timeout: Double = 9

    func validate() throws {
        try checkRange(timeout, "--timeout", 0.1...60)
    }

    /// A client, or an UNKNOWN answer and exit 3 when the URLs cannot be used.
    func client(service: String) -> ConveyorClient {
        do {
            return try client()
        } catch {
            finish(PluginResult(status: .unknown, text: oneLine(CLIError(error).message)).line(service: service), PluginStatus.unknown.rawValue)
        }
    }

    /// A client that creates nothing: a check must not declare the queue it inspects.
    func client() throws -> ConveyorClient {
        var configuration = ConveyorConfiguration.fromEnvironment()
        if let broker { configuration.brokerURL = broker }
        if let resultBackend { configuration.resultURL = resultBackend }
        // Connecting gets most of the budget, the rest is left for the questions asked after.
        configuration.connectTimeout = timeout * 0.6
        configuration.createMissingQueues = false
        var logger = Logger(label: "conveyor.check")
        logger.logLevel = .critical
        return try ConveyorClient(configuration: configuration, name: "conveyor-check", logger: logger)
    }
}

/// Runs `body` and prints its one line, exiting with the plugin's code. A body still running
/// after `timeout` seconds (a server accepting connections and then never answering) is left
/// behind: the check answers UNKNOWN and exits, so a plugin never hangs.
func runPlugin(service: String, timeout: Double, _ body: @escaping @Sendable () async throws -> PluginResult) async -> Never {
    let result: PluginResult
    switch await withDeadline(timeout, body) {
    case .success(let answer): result = answer
    case .failure(let error as CLIError) where error.message.hasPrefix("no answer within"):
        result = PluginResult(status: .unknown, text: error.message)
    case .failure(let error): result = PluginResult(status: .critical, text: oneLine(CLIError(error).message))
    }
    finish(result.line(service: service), result.status.rawValue)
}

/// Writes `text` and a newline on standard output and exits with `code`, leaving behind any
/// call still waiting on a server.
func finish(_ text: String, _ code: Int32) -> Never {
    FileHandle.standardOutput.write(Data((text + "\n").utf8))
    Foundation.exit(code)
}

/// Plugins print one line: newlines and the perfdata separator in server messages are replaced.
func oneLine(_ text: String) -> String {
    text.replacingOccurrences(of: "\n", with: " ").replacingOccurrences(of: "|", with: "/")
}
