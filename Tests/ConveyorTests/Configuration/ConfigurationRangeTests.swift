import Conveyor
import Logging
import Testing

/// Every number of `ConveyorConfiguration` (environment or code) is checked by `validate()`,
/// which clients and workers call before they use any of them.
@Suite("Configuration numbers: out of range is refused, naming the setting")
struct ConfigurationRangeTests {
    static let logger = Logger(label: "numbers", factory: { _ in SwiftLogNoOpLogHandler() })

    @Test("CONVEYOR_RESULT_EXPIRES beyond a century, or past Int, or not whole seconds, is refused naming the variable and value",
          arguments: ["1e300", "9223372036854775807", "9223372036854775808", "3155760001", "inf", "nan", "0x10", " "])
    func resultExpires(_ value: String) throws {
        let configuration = ConveyorConfiguration.fromEnvironment(["CONVEYOR_RESULT_EXPIRES": value])
        let error = #expect(throws: ConveyorError.self) { try configuration.validate() }
        #expect(error?.code == .invalidConfiguration)
        #expect(error?.message.contains("CONVEYOR_RESULT_EXPIRES") == true)
        #expect(error?.message.contains("'\(value)'") == true, "\(error?.message ?? "")")
        #expect(throws: ConveyorError.self) { try ConveyorClient(configuration: configuration, logger: Self.logger) }
    }

    @Test("the largest accepted lifetime is a century")
    func resultExpiresEdge() throws {
        let configuration = ConveyorConfiguration.fromEnvironment(["CONVEYOR_RESULT_EXPIRES": "3155760000"])
        #expect(configuration.resultTTL == 3_155_760_000)
        try configuration.validate()
    }

    /// A configuration with one field set out of range, and the name its error must carry.
    static let refused: [(String, @Sendable (inout ConveyorConfiguration) -> Void)] = [
        ("resultTTL", { $0.resultTTL = 0 }), ("resultTTL", { $0.resultTTL = -1 }), ("resultTTL", { $0.resultTTL = Int.max }),
        ("maxPriority", { $0.maxPriority = 0 }), ("maxPriority", { $0.maxPriority = 256 }), ("maxPriority", { $0.maxPriority = Int.max }),
        ("publishTimeout", { $0.publishTimeout = .nan }), ("publishTimeout", { $0.publishTimeout = .infinity }),
        ("publishTimeout", { $0.publishTimeout = 0 }), ("publishTimeout", { $0.publishTimeout = 1e300 }),
        ("connectTimeout", { $0.connectTimeout = .nan }), ("connectTimeout", { $0.connectTimeout = -1 }),
        ("connectTimeout", { $0.connectTimeout = 86_401 }),
        ("maxMessageSize", { $0.maxMessageSize = 0 }), ("maxMessageSize", { $0.maxMessageSize = Int.min }),
        ("heartbeat", { $0.brokerURL = "amqp://guest:guest@127.0.0.1:1/%2F?heartbeat=3000000000" }),
        ("database", { $0.resultURL = "redis://127.0.0.1:1/4294967296" }),
    ]

    @Test("a field set out of range is refused by validate() and by ConveyorClient.init", arguments: refused.indices)
    func settableFields(_ index: Int) throws {
        let (name, change) = Self.refused[index]
        var configuration = ConveyorConfiguration(brokerURL: "amqp://guest:guest@127.0.0.1:1/%2F", resultURL: "redis://127.0.0.1:1/0")
        try configuration.validate()
        change(&configuration)
        let error = #expect(throws: ConveyorError.self) { try configuration.validate() }
        #expect(error?.code == .invalidConfiguration)
        #expect(error?.message.contains(name) == true, "\(error?.message ?? "")")
        #expect(throws: ConveyorError.self) { try ConveyorClient(configuration: configuration, logger: Self.logger) }
    }

    @Test("a queue's max priority is clamped to RabbitMQ's 1...255 when declared")
    func maxPriorityClamp() {
        #expect(WorkQueue(name: "q", maxPriority: 1000).arguments["x-max-priority"] == .int32(255))
        #expect(WorkQueue(name: "q", maxPriority: Int.min).arguments["x-max-priority"] == .int32(1))
        #expect(WorkQueue(name: "q", maxPriority: 10).arguments["x-max-priority"] == .int32(10))
    }
}
