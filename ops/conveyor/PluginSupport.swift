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
    @OptionGroup var servers: ServerOptions

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
            finish(PluginResult(status: .unknown, text: pluginMessage(error)).line(service: service), PluginStatus.unknown.rawValue)
        }
    }

    /// A client that creates nothing: a check must not declare the queue it inspects.
    func client() throws -> ConveyorClient {
        var configuration = servers.configuration
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
    case .failure(let error as DeadlineExceeded): result = PluginResult(status: .unknown, text: error.description)
    case .failure(let error): result = PluginResult(status: .critical, text: pluginMessage(error))
    }
    finish(result.line(service: service), result.status.rawValue)
}

/// Writes `text` and a newline on standard output and exits with `code`, leaving behind any
/// call still waiting on a server.
func finish(_ text: String, _ code: Int32) -> Never {
    FileHandle.standardOutput.write(Data((text + "\n").utf8))
    Foundation.exit(code)
}

/// A failure as a plugin states it: the library's own message, without the CLI's hints for a
/// development machine, on one line.
func pluginMessage(_ error: any Error) -> String {
    oneLine((error as? ConveyorError)?.message ?? CLIError(error).message)
}

/// Plugins print one line: newlines and the perfdata separator in server messages are replaced.
func oneLine(_ text: String) -> String {
    text.replacingOccurrences(of: "\n", with: " ").replacingOccurrences(of: "|", with: "/")
}

/// `body`'s value, or a failure when it throws or is still running after `seconds`.
func withDeadline<T: Sendable>(_ seconds: Double, _ body: @escaping @Sendable () async throws -> T) async -> Result<T, any Error> {
    let box = DeadlineBox<T>()
    return await withCheckedContinuation { continuation in
        box.set(continuation)
        Task {
            do { box.resume(.success(try await body())) } catch { box.resume(.failure(error)) }
        }
        Task {
            try? await Task.sleep(for: .seconds(seconds))
            box.resume(.failure(DeadlineExceeded(seconds: seconds)))
        }
    }
}

/// `withDeadline` stopped waiting: nothing was measured.
struct DeadlineExceeded: Error, CustomStringConvertible {
    let seconds: Double
    var description: String { "no answer within \(seconds) s" }
}

/// Resumes a continuation once; later results are dropped.
final class DeadlineBox<T: Sendable>: @unchecked Sendable {
    private let lock = NSLock()
    private var continuation: CheckedContinuation<Result<T, any Error>, Never>?

    func set(_ continuation: CheckedContinuation<Result<T, any Error>, Never>) {
        lock.lock()
        self.continuation = continuation
        lock.unlock()
    }

    func resume(_ result: Result<T, any Error>) {
        lock.lock()
        let waiting = continuation
        continuation = nil
        lock.unlock()
        waiting?.resume(returning: result)
    }
}
