import Foundation
import Logging
import Synchronization

/// Sends mail through a few long-lived SMTP connections, each on its own libcurl I/O thread.
///
/// A message goes to the connection with the fewest messages waiting, so one slow message holds
/// up only its own connection.
public final class SMTPTransport: Sendable {
    /// The server.
    public let endpoint: SMTPEndpoint
    private let connections: [SMTPConnection]
    private let waiting: Mutex<[Int]>

    /// Settings of the transport.
    public struct Options: Sendable {
        /// Connections kept open, 1...64.
        public var connections: Int = 8
        /// Seconds to connect (TCP and TLS), finite, 0.1...600.
        public var connectTimeout: Double = 10
        /// Seconds one message may take, connection included, finite, 1...3600.
        public var sendTimeout: Double = 60

        /// The defaults above.
        public init() {}

        /// The allowed ranges.
        public static let connectionCounts = 1...64
        public static let connectTimeouts = 0.1...600.0
        public static let sendTimeouts = 1.0...3600.0
    }

    /// Starts the connections' threads; each connects at its first message.
    /// - Throws: `EmailError.Code.configuration` for numbers out of range.
    public init(endpoint: SMTPEndpoint, options: Options = .init(), logger: Logger) throws {
        guard Options.connectionCounts.contains(options.connections) else {
            throw EmailError(.configuration, "SMTP connections must be in \(Options.connectionCounts), not \(options.connections)")
        }
        guard Options.connectTimeouts.contains(options.connectTimeout) else {
            throw EmailError(.configuration, "SMTP connect timeout must be in \(Options.connectTimeouts) s, not \(options.connectTimeout)")
        }
        guard Options.sendTimeouts.contains(options.sendTimeout) else {
            throw EmailError(.configuration, "SMTP send timeout must be in \(Options.sendTimeouts) s, not \(options.sendTimeout)")
        }
        self.endpoint = endpoint
        connections = try (0..<options.connections).map { index in
            try SMTPConnection(endpoint: endpoint, connectTimeout: options.connectTimeout, sendTimeout: options.sendTimeout,
                               name: "conveyor-smtp-\(index)", logger: logger)
        }
        waiting = Mutex(Array(repeating: 0, count: options.connections))
    }

    /// Sends one message.
    /// - Returns: which recipients the server accepted and refused, and its final reply.
    /// - Throws: `EmailError` (`.permanent`, `.temporary`, `.connection`, `.unknownOutcome`).
    func send(_ envelope: SMTPEnvelope) async throws -> SMTPReceipt {
        let index = waiting.withLock { counts in
            let chosen = counts.indices.min { counts[$0] < counts[$1] } ?? 0
            counts[chosen] += 1
            return chosen
        }
        let result = await withCheckedContinuation { (continuation: CheckedContinuation<Result<SMTPReceipt, EmailError>, Never>) in
            connections[index].send(envelope) { continuation.resume(returning: $0) }
        }
        waiting.withLock { $0[index] -= 1 }
        return try result.get()
    }

    /// Connections opened so far, all threads together (reuse keeps it at one per thread).
    var connectionsOpened: Int { connections.reduce(0) { $0 + $1.opened.count } }

    /// Ends every connection once its queued messages are sent.
    public func close() {
        for connection in connections { connection.close() }
    }
}
