import AMQP
import IOSupport
import Logging
import Testing

/// Every number a broker URL or an endpoint holds is checked before rabbitmq-c sees it:
/// `?heartbeat=3000000000` once crashed the process converting it to an `Int32`.
@Suite("Broker URL numbers: ranges checked where they enter")
struct AMQPEndpointRangeTests {
    private static let logger = Logger(label: "amqp-range-tests", factory: { _ in SwiftLogNoOpLogHandler() })

    @Test("a heartbeat outside 0...65535 (AMQP carries it in 16 bits), or not a whole number, is refused naming it",
          arguments: ["3000000000", "65536", "-1", "9223372036854775808", "1.5", "1e3", "nan", "inf", "", "%zz"])
    func badHeartbeat(_ value: String) throws {
        let error = #expect(throws: AMQPError.self) { try AMQPEndpoint(url: "amqp://guest:s3cret@broker/%2F?heartbeat=\(value)") }
        #expect(error?.code == .invalidURL)
        #expect(error?.message.contains("heartbeat") == true, "\(error?.message ?? "")")
        #expect(error?.message.contains("s3cret") == false)
    }

    @Test("the edges of the heartbeat range are accepted: 0 turns heartbeats off, 65535 is the largest")
    func heartbeatEdges() throws {
        #expect(try AMQPEndpoint(url: "amqp://broker/?heartbeat=0").heartbeat == 0)
        #expect(try AMQPEndpoint(url: "amqp://broker/?heartbeat=65535").heartbeat == 65535)
    }

    @Test("a connect timeout that is not seconds in 0.001...86400 is refused",
          arguments: ["0", "-1", "nan", "inf", "-inf", "1e300", "86400.5", "0.0001", "soon"])
    func badConnectTimeout(_ value: String) throws {
        for key in ["connection_timeout", "connect_timeout"] {
            let error = #expect(throws: AMQPError.self) { try AMQPEndpoint(url: "amqp://broker/?\(key)=\(value)") }
            #expect(error?.message.contains(key) == true, "\(error?.message ?? "")")
        }
        #expect(try AMQPEndpoint(url: "amqp://broker/?connection_timeout=86400").connectTimeout == 86_400)
        #expect(try AMQPEndpoint(url: "amqp://broker/?connection_timeout=0.001").connectTimeout == 0.001)
    }

    @Test("ports past Int: refused, not trapped", arguments: ["99999999999999999999", "-5672", "+0"])
    func hugePorts(_ port: String) throws {
        #expect(throws: AMQPError.self) { try AMQPEndpoint(url: "amqp://broker:\(port)/") }
    }

    @Test("an option read here with a bad escape is refused; kombu's options Conveyor ignores are ignored whatever they hold")
    func queryEscapes() throws {
        let error = #expect(throws: AMQPError.self) { try AMQPEndpoint(url: "amqp://broker/?cacertfile=/etc/ca%zz.pem") }
        #expect(error?.message.contains("cacertfile") == true)
        #expect(try AMQPEndpoint(url: "amqp://broker/?cacertfile=/etc/c%20a.pem").caCertFile == "/etc/c a.pem")
        #expect(try AMQPEndpoint(url: "amqp://broker/?ssl_options=%zz&heartbeat=10").heartbeat == 10)
    }

    @Test("validate() refuses a number set after parsing, naming the property", arguments: [
        ("heartbeat", 3_000_000_000), ("heartbeat", -1), ("heartbeat", 65536), ("port", 0), ("port", 65536), ("port", Int.max),
    ])
    func validateIntegers(_ name: String, _ value: Int) throws {
        var endpoint = try AMQPEndpoint(url: "amqp://guest:s3cret@broker/")
        try endpoint.validate()
        if name == "heartbeat" { endpoint.heartbeat = value } else { endpoint.port = value }
        let error = #expect(throws: AMQPError.self) { try endpoint.validate() }
        #expect(error?.code == .invalidURL)
        #expect(error?.message.contains(name) == true, "\(error?.message ?? "")")
        #expect(error?.message.contains("s3cret") == false)
    }

    @Test("validate() refuses a connect timeout that is not seconds in 0.001...86400, and an empty host",
          arguments: [Double.nan, .infinity, -.infinity, 0, -1, 1e300])
    func validateTimeout(_ seconds: Double) throws {
        var endpoint = try AMQPEndpoint(url: "amqp://broker/")
        endpoint.connectTimeout = seconds
        #expect(throws: AMQPError.self) { try endpoint.validate() }
        endpoint = try AMQPEndpoint(url: "amqp://broker/")
        endpoint.host = ""
        #expect(throws: AMQPError.self) { try endpoint.validate() }
    }

    @Test("a connection is not made from an endpoint that fails validate(), nor from no endpoint at all")
    func connectionRefusesBadEndpoints() throws {
        var endpoint = try AMQPEndpoint(url: "amqp://127.0.0.1:1/")
        endpoint.heartbeat = 3_000_000_000
        let bad = #expect(throws: AMQPError.self) {
            try AMQPConnection(configuration: .init(endpoints: [try AMQPEndpoint(url: "amqp://127.0.0.1:1/"), endpoint], name: "range"),
                               logger: Self.logger)
        }
        #expect(bad?.message.contains("heartbeat") == true)
        let none = #expect(throws: AMQPError.self) { try AMQPConnection(configuration: .init(endpoints: [], name: "range"), logger: Self.logger) }
        #expect(none?.code == .invalidURL)
    }

    @Test("reconnect backoff settings are clamped to 0...3600 s, set in init or later, so no value traps the random draw")
    func backoffClamps() {
        var backoff = Backoff(base: .infinity, cap: .nan, floor: -1)
        #expect(backoff.base == 3600 && backoff.cap == 0 && backoff.floor == 0)
        backoff.cap = 1e300
        backoff.base = .nan
        backoff.floor = .infinity
        #expect(backoff.cap == 3600 && backoff.base == 0 && backoff.floor == 3600)
        for attempt in [0, 1, 30, Int.max, Int.min] {
            let delay = backoff.delay(attempt: attempt)
            #expect(delay.isFinite && delay >= 0 && delay <= 3600)
        }
    }
}
