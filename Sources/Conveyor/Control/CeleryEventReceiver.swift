import AMQP
import Foundation
import Logging
import Synchronization

/// Reads Celery's event stream the way `celery events` and Flower do (`celery/events/
/// receiver.py`): a private queue `<prefix>.<uuid>` (exclusive, auto-delete, events kept 5 s,
/// the queue 60 s after its consumer goes) bound to the `celeryev` topic exchange with `#`.
/// Events from Python and Swift workers alike. The connection is its own and reconnects by
/// itself, declaring the queue again and resubscribing.
public final class CeleryEventReceiver: Sendable {
    /// Celery's `event_queue_prefix`.
    public static let defaultQueuePrefix = "celeryev"
    /// Milliseconds an event waits in the queue (`event_queue_ttl` 5.0 s).
    static let messageTTL: Int32 = 5_000
    /// Milliseconds the queue outlives its consumer (`event_queue_expires` 60.0 s).
    static let queueExpires: Int32 = 60_000
    /// Seconds a wake-up `heartbeat` cast stays valid (`control.broadcast`'s default timeout).
    static let wakeExpires = 1.0

    /// The private queue's name.
    public let queue: String
    private let connection: AMQPConnection

    /// Makes the receiver without connecting; `start` connects.
    /// - Parameters:
    ///   - configuration: where the broker is (`brokerURL`).
    ///   - queuePrefix: the private queue's name before `.<uuid>`: 1 to 200 bytes.
    ///   - logger: where the connection logs.
    /// - Throws: `ConveyorError.Code.invalidConfiguration` for a broker URL that cannot be used,
    ///   `.invalidArguments` for a prefix out of bounds.
    public init(configuration: ConveyorConfiguration, queuePrefix: String = CeleryEventReceiver.defaultQueuePrefix,
                logger: Logger = Logger(label: "conveyor.events")) throws {
        guard (1...200).contains(queuePrefix.utf8.count) else {
            throw ConveyorError(.invalidArguments, "the event queue prefix must be 1 to 200 bytes")
        }
        queue = "\(queuePrefix).\(UUID().uuidString.lowercased())"
        do {
            connection = try AMQPConnection(
                configuration: .init(endpoints: try configuration.brokerEndpoints(), name: "conveyor events", confirms: false),
                logger: logger)
        } catch let error as AMQPError {
            throw ConveyorError(.invalidConfiguration, error.message)
        }
    }

    /// Declares the queue, subscribes, and asks every worker for a heartbeat at once (a pidbox
    /// `heartbeat` cast, as Celery's receivers do on start), so the workers are known within a
    /// round trip instead of a heartbeat interval.
    /// - Parameters:
    ///   - timeout: seconds to wait for the broker before giving up.
    ///   - handler: runs on the connection's I/O thread for every event, in arrival order; keep
    ///     it quick.
    /// - Throws: `ConveyorError.Code.invalidArguments` for a timeout that is not above 0,
    ///   `.brokerUnavailable` when the broker cannot be reached or refuses the queue in time.
    public func start(timeout: Double, handler: @escaping @Sendable (CeleryEvent) -> Void) async throws {
        try Self.check(timeout)
        connection.start()
        do {
            try await connection.declare([
                .exchange(ExchangeDeclaration(name: Pidbox.eventExchange, type: "topic", durable: true)),
                .exchange(ExchangeDeclaration(name: Pidbox.exchange, type: "fanout", durable: false)),
                .queue(QueueDeclaration(name: queue, durable: false, exclusive: true, autoDelete: true,
                                        arguments: ["x-message-ttl": .int32(Self.messageTTL), "x-expires": .int32(Self.queueExpires)])),
                .queueBinding(queue: queue, exchange: Pidbox.eventExchange, routingKey: "#"),
            ], timeout: timeout)
            try await connection.consume(queue: queue, options: ConsumerOptions(prefetch: 0, noAck: true), timeout: timeout) { delivery in
                for event in CeleryEvent.decode(delivery.body) { handler(event) }
            }
        } catch let error as AMQPError {
            throw ConveyorError(.brokerUnavailable, "broker unavailable: \(error.message)")
        }
        try await wakeWorkers(timeout: timeout)
    }

    /// Asks every worker to send a `worker-heartbeat` now (a pidbox `heartbeat` cast, dropped by
    /// workers after `wakeExpires` seconds as Celery's own is).
    /// - Throws: `ConveyorError.Code.invalidArguments` for a timeout that is not above 0,
    ///   `.brokerUnavailable` when the broker does not take the message within `timeout`.
    public func wakeWorkers(timeout: Double) async throws {
        try Self.check(timeout)
        do {
            let expires = Date().timeIntervalSince1970 + Self.wakeExpires
            try await connection.publish(Pidbox.broadcast("heartbeat", expires: expires), timeout: timeout)
        } catch let error as AMQPError {
            throw ConveyorError(.brokerUnavailable, "broker unavailable: \(error.message)")
        }
    }

    /// A wait in seconds: above 0 (infinity waits as long as a sleep can).
    private static func check(_ timeout: Double) throws {
        guard timeout > 0 else { throw ConveyorError(.invalidArguments, "timeout must be seconds above 0, not \(timeout)") }
    }

    /// Calls `observer` when the connection is lost (with the reason, once per outage) and when
    /// it is up (with nil: at the first connect and after each outage), on its I/O thread.
    public func onConnectionChange(_ observer: @escaping @Sendable (_ lostBecause: String?) -> Void) {
        let up = Mutex(false)
        connection.onStateChange { state in
            switch state {
            case .connected:
                let wasUp = up.withLock { state in
                    defer { state = true }
                    return state
                }
                if !wasUp { observer(nil) }
            case let .reconnecting(_, _, reason):
                let wasUp = up.withLock { state in
                    defer { state = false }
                    return state
                }
                if wasUp { observer(reason) }
            default: break
            }
        }
    }

    /// Stops receiving and closes the connection (the broker then deletes the queue).
    public func close() async {
        await connection.close()
    }
}
