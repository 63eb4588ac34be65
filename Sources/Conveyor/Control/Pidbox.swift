import AMQP
import Foundation
import Logging
#if canImport(Glibc)
import Glibc
#endif

/// One remote-control request from `celery inspect`/`celery control` (kombu's `Mailbox`).
struct PidboxRequest: Sendable {
    /// Where a call wants its reply.
    struct ReplyTo: Sendable {
        let exchange: String
        let routingKey: String
    }
    let method: String
    let arguments: JSONObject
    let destination: [String]
    let pattern: String?
    let matcher: String?
    let ticket: String?
    let replyTo: ReplyTo?
    /// The sender's Lamport clock (header `clock`).
    let clock: Int64?
    /// Epoch seconds after which nobody waits for the reply (header `expires`; 0 for casts).
    let expires: Double?

    /// Reads a request; nil when the body is not a JSON object with a `method`.
    init?(_ delivery: Delivery) {
        guard let body = try? JSON.parse(delivery.body), let method = body["method"]?.string else { return nil }
        self.method = method
        arguments = body["arguments"]?.object ?? [:]
        destination = body["destination"]?.array?.compactMap(\.string) ?? []
        pattern = body["pattern"]?.string
        matcher = body["matcher"]?.string
        ticket = body["ticket"]?.string
        if let reply = body["reply_to"], let exchange = reply["exchange"]?.string, let key = reply["routing_key"]?.string {
            replyTo = ReplyTo(exchange: exchange, routingKey: key)
        } else {
            replyTo = nil
        }
        let headers = delivery.properties.headers ?? [:]
        clock = headers["clock"]?.intValue
        switch headers["expires"] {
        case let .double(value)?: expires = value
        case let .float(value)?: expires = Double(value)
        case let value?: expires = value.intValue.map(Double.init)
        case nil: expires = nil
        }
    }

    /// Whether `nodename` should run this request (kombu `Node.handle_message`): a destination
    /// list names it, or else a pattern matches it (`glob` or `pcre`), or else every node runs it.
    func isFor(_ nodename: String) -> Bool {
        if !destination.isEmpty { return destination.contains(nodename) }
        guard let pattern, let matcher else { return true }
        switch matcher {
        case "glob": return fnmatch(pattern, nodename, 0) == 0
        case "pcre":
            guard let regex = try? NSRegularExpression(pattern: pattern) else { return false }
            let range = NSRange(nodename.startIndex..., in: nodename)
            return regex.firstMatch(in: nodename, options: .anchored, range: range) != nil
        default: return false
        }
    }
}

/// Celery's remote-control mailbox and event exchange on the worker's own AMQP connection (and
/// so its own I/O thread): requests are read and most are answered on that thread, never
/// waiting for a task slot or the task connections.
final class Pidbox: Sendable {
    /// The fanout exchange requests arrive on (`celery.pidbox`, non-durable as Python declares it).
    static let exchange = "celery.pidbox"
    /// The events exchange (`celeryev`, topic, durable).
    static let eventExchange = "celeryev"
    /// The direct exchange replies go to (`reply.celery.pidbox`, non-durable).
    static let replyExchange = "reply.celery.pidbox"
    /// Seconds an unused node queue outlives its worker (`control_queue_expires`).
    static let queueExpires: Int32 = 10_000
    /// Milliseconds a request waits in the node queue (`control_queue_ttl`).
    static let messageTTL: Int32 = 300_000

    let nodename: String
    let connection: AMQPConnection
    private let logger: Logger

    /// `<nodename>.celery.pidbox`.
    var queue: String { "\(nodename).\(Self.exchange)" }

    init(nodename: String, endpoints: [AMQPEndpoint], logger: Logger) throws {
        self.nodename = nodename
        self.logger = logger
        connection = try AMQPConnection(configuration: .init(endpoints: endpoints, name: "\(nodename) pidbox", confirms: false),
                                        logger: logger)
    }

    /// The exchanges and the node's queue, as Celery declares them (flags must match or the
    /// broker refuses them with 406).
    static func declarations(queue: String) -> [TopologyDeclaration] {
        [
            .exchange(ExchangeDeclaration(name: exchange, type: "fanout", durable: false)),
            .exchange(ExchangeDeclaration(name: replyExchange, type: "direct", durable: false)),
            .exchange(ExchangeDeclaration(name: eventExchange, type: "topic", durable: true)),
            .queue(QueueDeclaration(name: queue, durable: false, exclusive: true, autoDelete: true,
                                    arguments: ["x-expires": .int32(queueExpires), "x-message-ttl": .int32(messageTTL)])),
            .queueBinding(queue: queue, exchange: exchange, routingKey: ""),
        ]
    }

    /// A request to every node, as kombu's `Mailbox._broadcast` sends it: a call names its
    /// `ticket` and the routing key of its reply queue on `reply.celery.pidbox`; a cast
    /// (`heartbeat`, `enable_events`) names neither and nobody answers it.
    /// - Parameter expires: epoch seconds after which the workers drop it (0: never).
    static func broadcast(_ method: String, ticket: String? = nil, replyRoutingKey: String? = nil, expires: Double = 0) -> OutgoingMessage {
        var request: JSONObject = ["method": .string(method), "arguments": [:], "destination": .null, "pattern": .null, "matcher": .null]
        if let ticket, let replyRoutingKey {
            request["ticket"] = .string(ticket)
            request["reply_to"] = ["exchange": .string(replyExchange), "routing_key": .string(replyRoutingKey)]
        }
        return OutgoingMessage(
            exchange: exchange, routingKey: "",
            properties: BasicProperties(contentType: "application/json", contentEncoding: "utf-8",
                                        headers: ["clock": .int64(1), "expires": .double(expires)], deliveryMode: 1),
            body: JSON.object(request).serialized(.python), mandatory: false)
    }

    /// Declares the mailbox and consumes it without acknowledgements; `handler` runs on the
    /// connection's I/O thread for every request meant for this node.
    /// - Throws: `AMQPError` when the broker refuses (405 RESOURCE_LOCKED: another worker with
    ///   the same node name holds the mailbox).
    func start(timeout: Double, handler: @escaping @Sendable (PidboxRequest) -> Void) async throws {
        connection.start()
        try await connection.declare(Self.declarations(queue: queue), timeout: timeout)
        let nodename = self.nodename, logger = self.logger
        try await connection.consume(queue: queue, options: ConsumerOptions(prefetch: 0, noAck: true), timeout: timeout) { delivery in
            guard let request = PidboxRequest(delivery) else {
                logger.debug("pidbox: unreadable request ignored", metadata: ["bytes": "\(delivery.body.count)"])
                return
            }
            guard request.isFor(nodename) else { return }
            if let expires = request.expires, expires > 0, expires < Date().timeIntervalSince1970 { return }
            handler(request)
        }
    }

    /// Sends `{nodename: body}` where the request asked for its reply, with the request's
    /// ticket and our clock (kombu `Node.reply`). Declares the reply exchange first, as Python
    /// does, the first time each one is used.
    func reply(_ body: JSON, to request: PidboxRequest, clock: Int) {
        guard let replyTo = request.replyTo else { return }
        var headers: FieldTable = ["clock": .int64(Int64(clock))]
        if let ticket = request.ticket { headers["ticket"] = .string(ticket) }
        let payload: JSON = .object(JSONObject([(key: nodename, value: body)]))
        let message = OutgoingMessage(
            exchange: replyTo.exchange, routingKey: replyTo.routingKey,
            properties: BasicProperties(contentType: "application/json", contentEncoding: "utf-8", headers: headers, deliveryMode: 1),
            body: payload.serialized(.python), mandatory: false)
        let connection = self.connection, logger = self.logger
        let report: @Sendable (Result<Void, AMQPError>) -> Void = { result in
            if case let .failure(error) = result {
                logger.warning("pidbox: reply not sent", metadata: ["method": "\(request.method)", "reason": "\(error)"])
            }
        }
        // Python's clients reply through `reply.celery.pidbox`, declared at start: sent from
        // this thread at once. Another exchange is declared first, as kombu does.
        guard replyTo.exchange != Self.replyExchange else {
            connection.publish(message, timeout: 5, completion: report)
            return
        }
        Task {
            do {
                try await connection.declare([.exchange(ExchangeDeclaration(name: replyTo.exchange, type: "direct", durable: false))],
                                             remember: false, timeout: 5)
                connection.publish(message, timeout: 5, completion: report)
            } catch {
                report(.failure(error as? AMQPError ?? AMQPError(.protocolError, "\(error)")))
            }
        }
    }

    /// Publishes an event (or a list of them) to `celeryev` with routing key `type` with `-`
    /// as `.`, transient, header `hostname`, without waiting; `sent` runs on the I/O thread
    /// once it is written or its publish gave up.
    func publishEvent(_ event: JSON, type: String, sent: (@Sendable () -> Void)? = nil) {
        let message = OutgoingMessage(
            exchange: Self.eventExchange, routingKey: type.replacingOccurrences(of: "-", with: "."),
            properties: BasicProperties(contentType: "application/json", contentEncoding: "utf-8",
                                        headers: ["hostname": .string(nodename)], deliveryMode: 1),
            body: event.serialized(.python), mandatory: false)
        connection.publish(message, timeout: 5) { _ in sent?() }
    }

    func close() async {
        await connection.close()
    }
}
