import Logging
import Redis
import Repositories

/// The diff cache in the result store's Redis (`GET` / `SETEX` under `conveyor:diffs:`).
///
/// It lives in the daemon, not in the Repositories family, because the Conveyor library offers
/// job code no key/value access to Redis yet; when it does, this moves behind that API.
final class RedisDiffCache: DiffCache {
    private let connection: RedisConnection
    /// Seconds one cache command may take; a slow cache must not hold a diff up for long.
    private let timeout: Double = 2

    init(url: String, logger: Logger) throws {
        connection = try RedisConnection(configuration: .init(endpoint: try RedisEndpoint(url: url), name: "conveyor-diff-cache"),
                                         logger: logger)
        connection.start()
    }

    func value(for key: String) async throws -> [UInt8]? {
        let reply = try await connection.send(["GET", key], timeout: timeout)
        return reply.isNull ? nil : reply.bytes
    }

    func store(_ value: [UInt8], for key: String, ttl: Int) async throws {
        _ = try await connection.send(["SETEX", key, max(1, ttl), value], timeout: timeout)
    }
}
