import Logging
import Redis
import Testing

/// Every number a Redis URL or an endpoint holds is checked before hiredis sees it.
@Suite("Redis URL numbers: ranges checked where they enter")
struct RedisEndpointRangeTests {
    private static let logger = Logger(label: "redis-range-tests", factory: { _ in SwiftLogNoOpLogHandler() })

    @Test("a database outside 0...2147483647 (Redis numbers them with a C int), in the path or ?db=, is refused",
          arguments: ["2147483648", "9223372036854775807", "99999999999999999999", "-1", "1e3", "0x10"])
    func badDatabase(_ value: String) throws {
        for url in ["redis://:s3cret@cache/\(value)", "redis://:s3cret@cache?db=\(value)", "unix:///run/redis.sock?db=\(value)"] {
            let error = #expect(throws: RedisError.self) { try RedisEndpoint(url: url) }
            #expect(error?.code == .invalidURL)
            #expect(error?.message.contains("database") == true, "\(url): \(error?.message ?? "")")
            #expect(error?.message.contains("s3cret") == false)
        }
        #expect(try RedisEndpoint(url: "redis://cache/2147483647").database == 2_147_483_647)
    }

    @Test("a timeout that is not seconds in 0.001...86400 is refused, naming the option",
          arguments: ["0", "-1", "nan", "inf", "1e300", "86401", "0.0001", "soon"])
    func badTimeouts(_ value: String) throws {
        for key in ["socket_timeout", "socket_connect_timeout"] {
            let error = #expect(throws: RedisError.self) { try RedisEndpoint(url: "redis://cache/0?\(key)=\(value)") }
            #expect(error?.message.contains(key) == true, "\(error?.message ?? "")")
        }
    }

    @Test("ports past Int: refused, not trapped", arguments: ["99999999999999999999", "-6379", "65536"])
    func hugePorts(_ port: String) throws {
        #expect(throws: RedisError.self) { try RedisEndpoint(url: "redis://cache:\(port)/0") }
    }

    @Test("validate() refuses a number set after parsing, naming the property")
    func validateAfterParsing() throws {
        let parsed = try RedisEndpoint(url: "redis://:s3cret@cache:6379/0")
        try parsed.validate()
        var changes: [(String, (inout RedisEndpoint) -> Void)] = [
            ("port", { $0.port = 0 }), ("port", { $0.port = Int.max }),
            ("database", { $0.database = -1 }), ("database", { $0.database = Int(Int32.max) + 1 }),
            ("host", { $0.host = "" }), ("socket path", { $0.socketPath = "" }),
        ]
        for seconds in [Double.nan, .infinity, 0, -1, 1e300] {
            changes.append(("connectTimeout", { $0.connectTimeout = seconds }))
            changes.append(("commandTimeout", { $0.commandTimeout = seconds }))
        }
        for (name, change) in changes {
            var endpoint = parsed
            change(&endpoint)
            let error = #expect(throws: RedisError.self) { try endpoint.validate() }
            #expect(error?.message.contains(name) == true, "\(name): \(error?.message ?? "")")
            #expect(error?.message.contains("s3cret") == false)
        }
    }

    @Test("connections and subscribers are not made from an endpoint that fails validate()")
    func connectionsRefuseBadEndpoints() throws {
        var endpoint = try RedisEndpoint(url: "redis://127.0.0.1:1/0")
        endpoint.port = 1 << 40
        #expect(throws: RedisError.self) { try RedisConnection(configuration: .init(endpoint: endpoint, name: "range"), logger: Self.logger) }
        #expect(throws: RedisError.self) { try RedisSubscriber(endpoint: endpoint, logger: Self.logger, onMessage: { _, _ in }) }
    }
}
