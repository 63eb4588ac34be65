import Logging
import Redis
import Repositories

/// The diff cache in the result store's Redis (`GET` / `SETEX` under `conveyor:diffs:`).
///
/// A target of its own, beside the Repositories family rather than in it, because the Conveyor
/// library offers job code no key/value access to Redis yet (a family uses only Conveyor's public
/// API); when it does, this becomes a few lines over that API. The daemon and the benchmark use it.
public final class RedisDiffCache: DiffCache {
    private let connection: RedisConnection
    /// Seconds one cache command may take; a slow cache must not hold a diff up for long.
    private let timeout: Double = 2

    /// Connects (in the background, reconnecting as the result store's connections do) to `url`.
    public init(url: String, logger: Logger) throws {
        connection = try RedisConnection(configuration: .init(endpoint: try RedisEndpoint(url: url), name: "conveyor-diff-cache"),
                                         logger: logger)
        connection.start()
    }

    public func value(for key: String) async throws -> [UInt8]? {
        let reply = try await connection.send(["GET", key], timeout: timeout)
        return reply.isNull ? nil : reply.bytes
    }

    public func store(_ value: [UInt8], for key: String, ttl: Int) async throws {
        _ = try await connection.send(["SETEX", key, max(1, ttl), value], timeout: timeout)
    }
}
