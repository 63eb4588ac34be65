import Foundation
import IOSupport
import Logging
import Redis
import Synchronization
import TestSupport

/// Connections and throw-away keys on the test Redis.
enum TestRedis {
    static let logger = Logger(label: "redis-tests", factory: { _ in SwiftLogNoOpLogHandler() })

    static func endpoint() throws -> RedisEndpoint {
        try TestEnvironment.requireServices()
        return try RedisEndpoint(url: TestEnvironment.resultURL)
    }

    /// A connection to the test Redis (starts on first use).
    static func connection(_ name: String) throws -> RedisConnection {
        try RedisConnection(configuration: .init(endpoint: try endpoint(), name: "redis-tests-\(name)", queueTimeout: 10), logger: logger)
    }

    /// Runs `body` with a connection, closing it afterwards whatever happens.
    static func withConnection<T>(_ name: String, _ body: (RedisConnection) async throws -> T) async throws -> T {
        let connection = try connection(name)
        do {
            let result = try await body(connection)
            await connection.close()
            return result
        } catch {
            await connection.close()
            throw error
        }
    }

    /// A key no other test uses.
    static func uniqueKey(_ label: String) -> String {
        "conveyor-test:\(label):\(UUID().uuidString.lowercased())"
    }
}

/// Collects what a subscriber receives.
final class MessageInbox: Sendable {
    private let received = Mutex<[(channel: String, payload: [UInt8])]>([])

    var handler: @Sendable (String, [UInt8]) -> Void {
        { [self] channel, payload in received.withLock { $0.append((channel, payload)) } }
    }

    /// Payloads received on `channel`, in order.
    func payloads(on channel: String) -> [[UInt8]] {
        received.withLock { $0.filter { $0.channel == channel }.map(\.payload) }
    }
}
