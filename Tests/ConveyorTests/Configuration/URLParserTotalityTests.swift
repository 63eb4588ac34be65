import AMQP
import Redis
import Testing
import TestSupport

/// The URL parsers are total: whatever text arrives (a flag, an environment variable), they
/// return an endpoint or throw; `amqp://h/?=` once trapped indexing the empty split of `=`.
/// Inputs are glued from the pieces URLs are made of, by a seeded generator, so a failure
/// names an input that can be replayed.
@Suite("URL parsers: no input traps them")
struct URLParserTotalityTests {
    static let schemes = ["amqp://", "amqps://", "pyamqp://", "redis://", "rediss://", "unix://", "redis+socket://", "http://"]
    static let pieces = schemes + [
        "://", "@", ":", "/", "//",
        "?", "&", "=", "==", "%", "%2", "%2F", "%zz", "%FF", "%C3%A9", "%00", "[", "]", "[::1]", "guest", "s3cret", "host", ",", " ",
        "\t", "é", "\u{0}", "heartbeat", "heartbeat=", "connection_timeout=", "connect_timeout=", "db=", "password=", "socket_timeout=",
        "socket_connect_timeout=", "cacertfile=", "verify=false", "0", "1", "-1", "+5", "65535", "65536", "3000000000",
        "99999999999999999999", "1e300", "nan", "inf", "-inf", "0.0001", "86400",
    ]

    @Test("twenty thousand generated URLs each parse or throw, and whatever parses passes validate()",
          arguments: [UInt64(1), 2, 3, 4])
    func generated(_ seed: UInt64) {
        var random = SeededGenerator(seed: seed)
        var parsed = 0
        for _ in 0..<5_000 {
            // Mostly a scheme first, so the parsers get past it; now and then anything at all.
            let first = Int.random(in: 0..<10, using: &random) == 0 ? Self.pieces : Self.schemes
            let count = Int.random(in: 0...12, using: &random)
            let url = (first.randomElement(using: &random) ?? "")
                + (0..<count).map { _ in Self.pieces.randomElement(using: &random) ?? "" }.joined()
            parsed += exercise(url)
        }
        // Not only refusals: the generator reaches the parsers' accepting paths too.
        #expect(parsed > 500, "seed \(seed): only \(parsed) URLs parsed")
    }

    @Test("the shapes that trapped or nearly did", arguments: [
        "amqp://h/?=", "amqp://h/?==", "amqp://h/?&&=&", "amqp://?", "amqp://@", "amqp://:@:/", "amqp://[", "amqp://[]:", "amqp://[::1",
        "redis://?=", "redis://:", "redis://@:", "redis://[::1]/0", "unix://?db=", "redis:///", "amqp://h:/%", "redis://h/%",
        ",", ",,", "amqp://a,amqp://", "%", "://",
    ])
    func knownShapes(_ url: String) {
        _ = exercise(url)
    }

    /// Parses `url` every way there is; what parses must validate, as connections require.
    /// - Returns: how many parsers accepted it.
    private func exercise(_ url: String) -> Int {
        _ = AMQPEndpoint.redact(url)
        _ = RedisEndpoint.redact(url)
        _ = try? AMQPEndpoint.list(url)
        var parsed = 0
        if let endpoint = try? AMQPEndpoint(url: url) {
            parsed += 1
            _ = endpoint.description
            #expect(throws: Never.self, "\(url)") { try endpoint.validate() }
        }
        if let endpoint = try? RedisEndpoint(url: url) {
            parsed += 1
            _ = endpoint.description
            #expect(throws: Never.self, "\(url)") { try endpoint.validate() }
        }
        return parsed
    }
}
