import AMQP
@testable import Conveyor
import Foundation
import Logging
import Testing

/// Numbers handed to the client API are refused with `invalidArguments` before anything
/// converts them: `TaskOptions(expiresIn: .infinity)` once trapped turning milliseconds into an
/// Int, a far ETA trapped formatting its date.
@Suite("Client API numbers: refused with a ConveyorError, never a trap")
struct ClientNumberTests {
    /// A client whose servers are never reached: every case here must fail before a connection.
    static func offlineClient() throws -> ConveyorClient {
        var configuration = ConveyorConfiguration(brokerURL: "amqp://guest:guest@127.0.0.1:1/%2F", resultURL: "redis://127.0.0.1:1/0")
        configuration.publishTimeout = 1
        configuration.connectTimeout = 1
        return try ConveyorClient(configuration: configuration, logger: Logger(label: "numbers", factory: { _ in SwiftLogNoOpLogHandler() }))
    }

    static let far = Double(DelayedDelivery.maxDelay) + 1

    /// Options each out of range in one number, with the field the error must name. The far
    /// ETA is twice the cascade's reach ahead: made when this list is, maybe seconds before use.
    static let refused: [(TaskOptions, String)] = [
        (TaskOptions(expiresIn: .infinity), "expiresIn"), (TaskOptions(expiresIn: -.infinity), "expiresIn"),
        (TaskOptions(expiresIn: .nan), "expiresIn"), (TaskOptions(expiresIn: 1e300), "expiry"), (TaskOptions(expiresIn: -1e300), "expiry"),
        (TaskOptions(expiresAt: Date(timeIntervalSince1970: 1e300)), "expiry"),
        (TaskOptions(expiresAt: Date(timeIntervalSince1970: .nan)), "expiry"),
        (TaskOptions(countdown: .nan), "countdown"), (TaskOptions(countdown: .infinity), "countdown"), (TaskOptions(countdown: -1), "countdown"),
        (TaskOptions(countdown: 1e300), "countdown"), (TaskOptions(countdown: far), "countdown"),
        (TaskOptions(eta: Date(timeIntervalSince1970: .nan)), "eta"), (TaskOptions(eta: Date(timeIntervalSince1970: .infinity)), "eta"),
        (TaskOptions(eta: Date(timeIntervalSince1970: -1e300)), "eta"), (TaskOptions(eta: Date(timeIntervalSinceNow: 2 * far)), "ETA"),
        (TaskOptions(timeLimit: .nan), "timeLimit"), (TaskOptions(timeLimit: .infinity), "timeLimit"), (TaskOptions(timeLimit: 0), "timeLimit"),
        (TaskOptions(softTimeLimit: .nan), "softTimeLimit"), (TaskOptions(softTimeLimit: -1), "softTimeLimit"),
    ]

    @Test("send, send(batch:) and call refuse an out-of-range option with invalidArguments naming it", arguments: refused.indices)
    func outOfRangeOptions(_ index: Int) async throws {
        let (options, field) = Self.refused[index]
        let client = try Self.offlineClient()
        let sent = await #expect(throws: ConveyorError.self) { try await client.send(taskNamed: "conveyor.add", options: options) }
        #expect(sent?.code == .invalidArguments)
        #expect(sent?.message.contains(field) == true, "\(sent?.message ?? "")")
        let called = await #expect(throws: ConveyorError.self) { try await client.call(taskNamed: "conveyor.add", options: options, timeout: 1) }
        #expect(called?.code == .invalidArguments)
        let batch = await client.send(batch: [ConveyorClient.Request(name: "conveyor.add", options: options)])
        guard case let .failure(error)? = batch.first else {
            Issue.record("the batch accepted \(field)")
            await client.close()
            return
        }
        #expect(error.code == .invalidArguments)
        await client.close()
    }

    @Test("a NaN or infinite float in the headers is refused, naming where it sits: RabbitMQ takes it, then drops every consumer it is delivered to",
          arguments: [
              (["x": .double(.nan)], "x"), (["x": .float(-Float.infinity)], "x"),
              (["ok": .double(1.5), "x": .array([.int32(1), .table(["y": .double(.infinity)])])], "x.1.y"),
          ] as [(FieldTable, String)])
    func nonFiniteHeaders(_ headers: FieldTable, _ path: String) async throws {
        let client = try Self.offlineClient()
        let error = await #expect(throws: ConveyorError.self) { try await client.send(taskNamed: "t", options: TaskOptions(headers: headers)) }
        #expect(error?.code == .invalidArguments)
        #expect(error?.message.contains("'\(path)'") == true, "\(error?.message ?? "")")
        var message = TaskMessage(id: "i", task: "t", args: [], kwargs: [:])
        message.extraHeaders = headers
        let published = await #expect(throws: ConveyorError.self) { try await client.publish(message, queue: "q") }
        #expect(published?.code == .invalidArguments)
        await client.close()
    }

    @Test("a fully built message is checked before it is published: eta, expires and time limits")
    func builtMessages() async throws {
        let client = try Self.offlineClient()
        let changes: [(String, (inout TaskMessage) -> Void)] = [
            ("eta", { $0.eta = Date(timeIntervalSince1970: .nan) }), ("expires", { $0.expires = Date(timeIntervalSince1970: 1e300) }),
            ("timeLimit", { $0.timeLimit = .nan }), ("softTimeLimit", { $0.softTimeLimit = 0 }),
        ]
        for (name, change) in changes {
            var message = TaskMessage(id: "i", task: "t", args: [], kwargs: [:])
            change(&message)
            let error = await #expect(throws: ConveyorError.self) { try await client.publish(message, queue: "q") }
            #expect(error?.code == .invalidArguments)
            #expect(error?.message.contains(name) == true, "\(error?.message ?? "")")
        }
        await client.close()
    }

    @Test("options set after init are checked too: a var is checked where the message is built")
    func settableOptions() throws {
        var options = TaskOptions(expiresIn: 60)
        options.expiresIn = .infinity
        #expect(throws: ConveyorError.self) { try options.message(task: "t", args: [], kwargs: [:]) }
    }

    @Test("the edges of the ranges are accepted and written as Celery writes them")
    func edges() throws {
        let now = Date(timeIntervalSince1970: 1_800_000_000)
        let longest = try TaskOptions(countdown: Double(DelayedDelivery.maxDelay)).message(task: "t", args: [], kwargs: [:], now: now)
        #expect(longest.eta == now.addingTimeInterval(Double(DelayedDelivery.maxDelay)))
        let expiring = try TaskOptions(expiresIn: 86_400 * 365 * 100).message(task: "t", args: [], kwargs: [:], now: now)
        #expect(expiring.expiration == String(86_400 * 365 * 100 * 1000))
        let expired = try TaskOptions(expiresIn: -5).message(task: "t", args: [], kwargs: [:], now: now)
        #expect(expired.expiration == "0", "already expired: the broker may drop it at once")
        let lastYear = Date(timeIntervalSince1970: Double(ISO8601.latestSecond))
        #expect(try TaskOptions(expiresAt: lastYear).message(task: "t", args: [], kwargs: [:], now: now).expires == lastYear)
    }

    @Test("waits refuse NaN and negatives; infinity is kept (sleeps clamp it)")
    func waits() async throws {
        let client = try Self.offlineClient()
        for timeout in [Double.nan, -1, -Double.infinity] {
            let waited = await #expect(throws: ConveyorError.self) { try await client.wait(for: "some-id", timeout: timeout) }
            #expect(waited?.code == .invalidArguments)
            let called = await #expect(throws: ConveyorError.self) { try await client.call(taskNamed: "conveyor.add", timeout: timeout) }
            #expect(called?.code == .invalidArguments)
            let connected = await #expect(throws: ConveyorError.self) { try await client.connect(timeout: timeout) }
            #expect(connected?.code == .invalidArguments)
            let broker = await #expect(throws: ConveyorError.self) { try await client.connectBroker(timeout: timeout) }
            #expect(broker?.code == .invalidArguments)
            let pinged = await #expect(throws: ConveyorError.self) { try await client.pingBackend(timeout: timeout) }
            #expect(pinged?.code == .invalidArguments)
        }
        #expect(try ConveyorClient.checkedWait(.infinity, "t") == .infinity)
        #expect(try ConveyorClient.checkedWait(0, "t") == 0)
        await client.close()
    }

    @Test("revoke refuses a mark lifetime outside ConveyorConfiguration.ttls before touching Redis", arguments: [0, -1, Int.max, 3_155_760_001])
    func revokeTTL(_ ttl: Int) async throws {
        let client = try Self.offlineClient()
        let error = await #expect(throws: ConveyorError.self) { try await client.revoke(["some-id"], ttl: ttl) }
        #expect(error?.code == .invalidArguments)
        #expect(error?.message.contains("ttl") == true)
        await client.close()
    }

    @Test("retry(after:): NaN, infinity and more than the cascade holds are refused where the worker acts on it; 0 or less is at once",
          arguments: [Double.nan, .infinity, 1e300, far])
    func retryAfterOutOfRange(_ seconds: Double) throws {
        let request = RetryRequest(after: seconds)
        let error = #expect(throws: ConveyorError.self) { try request.delay(policy: .never, retries: 0) }
        #expect(error?.code == .invalidArguments)
        #expect(error?.message.contains("retry(after:)") == true)
        #expect(try RetryRequest(after: -.infinity).delay(policy: .never, retries: 0) == 0)
        #expect(try RetryRequest(after: Double(DelayedDelivery.maxDelay)).delay(policy: .never, retries: 0) == Double(DelayedDelivery.maxDelay))
    }

    @Test("a retry policy's numbers are clamped to what the cascade holds, in init and when set later")
    func retryPolicyClamps() throws {
        var policy = RetryPolicy(maxRetries: -3, base: .infinity, cap: .nan, jitter: false)
        #expect(policy.maxRetries == 0 && policy.base == Double(DelayedDelivery.maxDelay) && policy.cap == 0)
        policy.cap = 1e300
        policy.base = -5
        policy.maxRetries = -1
        #expect(policy.cap == Double(DelayedDelivery.maxDelay) && policy.base == 0 && policy.maxRetries == 0)
        policy.base = .infinity
        for retries in [0, 1, 40, Int.max, Int.min] {
            let delay = try RetryRequest().delay(policy: policy, retries: retries)
            #expect(delay.isFinite && delay >= 0 && delay <= Double(DelayedDelivery.maxDelay))
        }
        policy.jitter = true
        #expect(policy.delay(retries: 3) <= Double(DelayedDelivery.maxDelay))
    }

    @Test("a message whose ETA lies past the cascade's reach goes in at its longest delay instead of trapping the publisher")
    func farETAIsPublishable() throws {
        let client = try Self.offlineClient()
        for eta in [Date(timeIntervalSince1970: Double(ISO8601.latestSecond)), Date(timeIntervalSince1970: .infinity)] {
            var message = TaskMessage(id: "i", task: "t", args: [], kwargs: [:])
            message.eta = eta
            let outgoing = client.publisher.outgoing(message, queue: "q")
            #expect(outgoing.routingKey == DelayedDelivery.routingKey(delay: DelayedDelivery.maxDelay, queue: "q"))
        }
    }
}
