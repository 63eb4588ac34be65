import CRabbitMQ
import IOSupport
#if canImport(Glibc)
import Glibc
#endif

// Method ids (amqp_framing.h; the header spells them as casts Swift cannot import).
enum Method {
    static let connectionClose: UInt32 = 0x000A_0032
    static let connectionCloseOk: UInt32 = 0x000A_0033
    static let connectionBlocked: UInt32 = 0x000A_003C
    static let connectionUnblocked: UInt32 = 0x000A_003D
    static let channelClose: UInt32 = 0x0014_0028
    static let channelCloseOk: UInt32 = 0x0014_0029
    static let basicCancel: UInt32 = 0x003C_001E
    static let basicReturn: UInt32 = 0x003C_0032
    static let basicDeliver: UInt32 = 0x003C_003C
    static let basicAck: UInt32 = 0x003C_0050
    static let basicNack: UInt32 = 0x003C_0078
}

enum FrameType {
    static let method: UInt8 = 1
    static let header: UInt8 = 2
    static let body: UInt8 = 3
    static let heartbeat: UInt8 = 8
}

/// One rabbitmq-c connection, used synchronously and only from its owner's I/O thread.
///
/// Every call here blocks for at most the RPC timeout; every failure becomes an `AMQPError`.
/// After a connection-level error the session is dead: destroy it and open a new one.
final class Session {
    let state: amqp_connection_state_t
    let endpoint: AMQPEndpoint
    private(set) var isOpen = false
    private var openChannels: Set<UInt16> = []
    /// Frames of other channels read between a message's content frames, oldest first:
    /// `nextFrame` returns them before it reads more (see `readContent`).
    var heldFrames: [amqp_frame_t] = []

    /// Connects, logs in with our capabilities table and opens no channel yet.
    init(endpoint: AMQPEndpoint, connectionName: String, rpcTimeout: Double) throws {
        self.endpoint = endpoint
        guard let state = amqp_new_connection() else { throw AMQPError(.connectionFailed, "rabbitmq-c could not allocate a connection") }
        self.state = state
        // On failure deinit destroys the connection (every stored property is set by now).
        try open(connectionName: connectionName, rpcTimeout: rpcTimeout)
        isOpen = true
    }

    deinit {
        if isOpen {
            // Best effort; the broker requeues unacked deliveries when the socket closes anyway.
            // Brief, so a broker that stopped answering cannot hold a shutdown for the full RPC timeout.
            var brief = timeoutValue(seconds: 1)
            _ = amqp_set_rpc_timeout(state, &brief)
            _ = amqp_connection_close(state, 200)
        }
        amqp_destroy_connection(state)
    }

    private func open(connectionName: String, rpcTimeout: Double) throws {
        let socket: OpaquePointer?
        if endpoint.tls {
            socket = amqp_ssl_socket_new(state)
            guard let socket else { throw AMQPError(.connectionFailed, "cannot create TLS socket for \(endpoint)") }
            amqp_ssl_socket_set_verify_peer(socket, endpoint.verifyPeer ? 1 : 0)
            amqp_ssl_socket_set_verify_hostname(socket, endpoint.verifyPeer ? 1 : 0)
            if let ca = endpoint.caCertFile, amqp_ssl_socket_set_cacert(socket, ca) != 0 {
                throw AMQPError(.connectionFailed, "cannot read CA certificate \(ca)")
            }
            if let cert = endpoint.certFile, let key = endpoint.keyFile, amqp_ssl_socket_set_key(socket, cert, key) != 0 {
                throw AMQPError(.connectionFailed, "cannot read client certificate \(cert) / key \(key)")
            }
        } else {
            socket = amqp_tcp_socket_new(state)
            guard socket != nil else { throw AMQPError(.connectionFailed, "cannot create socket for \(endpoint)") }
        }
        var connectTimeout = timeoutValue(seconds: endpoint.connectTimeout)
        let status = amqp_socket_open_noblock(socket, endpoint.host, Int32(endpoint.port), &connectTimeout)
        guard status == AMQP_STATUS_OK.rawValue else {
            // rabbitmq-c 0.11 drops the socket's own error for a failed non-blocking connect
            // (errno still says "in progress"), so ask the network ourselves.
            let reason = status == AMQP_STATUS_SOCKET_ERROR.rawValue
                ? connectFailureReason(host: endpoint.host, port: endpoint.port, timeout: endpoint.connectTimeout) ?? statusText(status)
                : statusText(status)
            throw AMQPError(.connectionFailed, "cannot connect to \(endpoint): \(reason)")
        }
        var handshake = timeoutValue(seconds: max(endpoint.connectTimeout, 5))
        _ = amqp_set_handshake_timeout(state, &handshake)
        var rpc = timeoutValue(seconds: rpcTimeout)
        _ = amqp_set_rpc_timeout(state, &rpc)

        let capabilities: FieldTable = [
            "consumer_cancel_notify": .bool(true),
            "connection.blocked": .bool(true),
            "publisher_confirms": .bool(true),
            "basic.nack": .bool(true),
            "authentication_failure_close": .bool(true),
        ]
        let clientProperties: FieldTable = [
            "product": .string("Conveyor"),
            "platform": .string("Swift"),
            "connection_name": .string(connectionName),
            "capabilities": .table(capabilities),
        ]
        let reply = CArena.with { arena in
            var table = clientProperties.cTable(in: arena)
            return conveyor_amqp_login_plain(
                state, endpoint.vhost, 0, 131_072, Int32(endpoint.heartbeat), &table, endpoint.user, endpoint.password)
        }
        if reply.reply_type != AMQP_RESPONSE_NORMAL {
            let detail = describe(reply)
            if reply.reply_type == AMQP_RESPONSE_SERVER_EXCEPTION || detail.contains("refused") || detail.contains("ACCESS") {
                throw AMQPError(.loginRefused, "broker \(endpoint) refused login for user '\(endpoint.user)' on vhost '\(endpoint.vhost)': \(detail)")
            }
            throw AMQPError(.connectionFailed, "cannot log in to \(endpoint): \(detail)")
        }
    }

    /// The broker's descriptor, for `poll()`.
    var socketDescriptor: Int32 { amqp_get_sockfd(state) }

    /// Whether rabbitmq-c holds frames or bytes not yet returned (poll would not see them).
    var hasBufferedInput: Bool { !heldFrames.isEmpty || amqp_frames_enqueued(state) != 0 || amqp_data_in_buffer(state) != 0 }

    /// The heartbeat the broker agreed to, seconds (0 = off).
    var negotiatedHeartbeat: Int { Int(amqp_get_heartbeat(state)) }

    // MARK: Channels and declarations

    func openChannel(_ channel: UInt16) throws {
        _ = amqp_channel_open(state, channel)
        try check(amqp_get_rpc_reply(state), "channel.open")
        openChannels.insert(channel)
    }

    /// Closes `channel` (waiting for close-ok; frames for other channels meanwhile are kept for
    /// `nextFrame`).
    func closeChannel(_ channel: UInt16) throws {
        try check(amqp_channel_close(state, channel, 200), "channel.close", channel: channel)
        openChannels.remove(channel)
    }

    /// The highest channel number the broker allows.
    var channelMax: UInt16 {
        let negotiated = amqp_get_channel_max(state)
        return negotiated > 0 && negotiated <= Int32(UInt16.max) ? UInt16(negotiated) : UInt16.max
    }

    /// Declares one thing on `channel`. Throws the broker's reason (404, 406 …) on refusal,
    /// after which the channel is closed and must be reopened.
    func declare(_ declaration: TopologyDeclaration, channel: UInt16) throws {
        try CArena.with { arena in try declare(declaration, channel: channel, arena: arena) }
    }

    private func declare(_ declaration: TopologyDeclaration, channel: UInt16, arena: CArena) throws {
        switch declaration {
        case let .exchange(e):
            _ = amqp_exchange_declare(state, channel, arena.bytes(e.name), arena.bytes(e.type), 0, e.durable ? 1 : 0,
                                      e.autoDelete ? 1 : 0, 0, e.arguments.cTable(in: arena))
            try check(amqp_get_rpc_reply(state), "exchange.declare \(e.name)", channel: channel)
        case let .queue(q):
            _ = amqp_queue_declare(state, channel, arena.bytes(q.name), 0, q.durable ? 1 : 0, q.exclusive ? 1 : 0,
                                   q.autoDelete ? 1 : 0, q.arguments.cTable(in: arena))
            try check(amqp_get_rpc_reply(state), "queue.declare \(q.name)", channel: channel)
        case let .queueBinding(queue, exchange, routingKey, arguments):
            _ = amqp_queue_bind(state, channel, arena.bytes(queue), arena.bytes(exchange), arena.bytes(routingKey),
                                arguments.cTable(in: arena))
            try check(amqp_get_rpc_reply(state), "queue.bind \(queue) to \(exchange)", channel: channel)
        case let .exchangeBinding(destination, source, routingKey, arguments):
            _ = amqp_exchange_bind(state, channel, arena.bytes(destination), arena.bytes(source), arena.bytes(routingKey),
                                   arguments.cTable(in: arena))
            try check(amqp_get_rpc_reply(state), "exchange.bind \(destination) to \(source)", channel: channel)
        }
    }

    /// Passive declare: the queue's ready-message and consumer counts, or `notFound`.
    func inspect(queue: String, channel: UInt16) throws -> QueueStatus {
        let ok = CArena.with { arena in
            amqp_queue_declare(state, channel, arena.bytes(queue), 1, 0, 0, 0, amqp_table_t(num_entries: 0, entries: nil))
        }
        try check(amqp_get_rpc_reply(state), "queue.declare(passive) \(queue)", channel: channel)
        guard let ok else { throw AMQPError(.protocolError, "queue.declare-ok missing for \(queue)") }
        return QueueStatus(messageCount: ok.pointee.message_count, consumerCount: ok.pointee.consumer_count)
    }

    /// Removes all ready messages; returns how many.
    func purge(queue: String, channel: UInt16) throws -> UInt32 {
        let ok = CArena.with { arena in amqp_queue_purge(state, channel, arena.bytes(queue)) }
        try check(amqp_get_rpc_reply(state), "queue.purge \(queue)", channel: channel)
        return ok?.pointee.message_count ?? 0
    }

    /// Deletes a queue; returns how many messages it held.
    func delete(queue: String, channel: UInt16) throws -> UInt32 {
        let ok = CArena.with { arena in amqp_queue_delete(state, channel, arena.bytes(queue), 0, 0) }
        try check(amqp_get_rpc_reply(state), "queue.delete \(queue)", channel: channel)
        return ok?.pointee.message_count ?? 0
    }

    // MARK: Publishing and consuming

    func confirmSelect(channel: UInt16) throws {
        _ = amqp_confirm_select(state, channel)
        try check(amqp_get_rpc_reply(state), "confirm.select", channel: channel)
    }

    func qos(channel: UInt16, prefetch: UInt16) throws {
        _ = amqp_basic_qos(state, channel, 0, prefetch, 0)
        try check(amqp_get_rpc_reply(state), "basic.qos", channel: channel)
    }

    func consume(channel: UInt16, queue: String, tag: String, options: ConsumerOptions) throws {
        CArena.with { arena in
            _ = amqp_basic_consume(state, channel, arena.bytes(queue), arena.bytes(tag), 0, options.noAck ? 1 : 0,
                                   options.exclusive ? 1 : 0, options.arguments.cTable(in: arena))
        }
        try check(amqp_get_rpc_reply(state), "basic.consume \(queue)", channel: channel)
    }

    func cancel(channel: UInt16, tag: String) throws {
        CArena.with { arena in _ = amqp_basic_cancel(state, channel, arena.bytes(tag)) }
        try check(amqp_get_rpc_reply(state), "basic.cancel \(tag)", channel: channel)
    }

    /// The frame size the broker agreed to at login.
    var frameMax: Int { Int(amqp_get_frame_max(state)) }

    /// Writes one message to the socket (not yet confirmed).
    ///
    /// A message that can never be published under `limits` throws `messageTooLarge` or
    /// `invalidMessage` before anything is written, and the session stays usable. Should
    /// rabbitmq-c still fail to encode it, the session is dead (see below) but the error names
    /// the message all the same, so the caller fails it rather than sending it again.
    func publish(_ message: OutgoingMessage, channel: UInt16, limits: PublishLimits) throws {
        try limits.check(message)
        let status = CArena.with(blockSize: 2048) { arena in
            var properties = message.properties.cProperties(in: arena)
            return message.body.withUnsafeBytes { body -> Int32 in
                let bytes = amqp_bytes_t(len: body.count, bytes: UnsafeMutableRawPointer(mutating: body.baseAddress))
                return amqp_basic_publish(state, channel, arena.bytes(message.exchange), arena.bytes(message.routingKey),
                                          message.mandatory ? 1 : 0, 0, &properties, bytes)
            }
        }
        if status == AMQP_STATUS_TABLE_TOO_BIG.rawValue || status == AMQP_STATUS_BAD_AMQP_DATA.rawValue {
            // rabbitmq-c sends the basic.publish method frame before it encodes the content
            // header; the broker now waits for a header that will never come and closes the
            // connection (505 UNEXPECTED_FRAME) at our next frame. Measured with rabbitmq-c 0.11.
            isOpen = false
            let code: AMQPError.Code = status == AMQP_STATUS_TABLE_TOO_BIG.rawValue ? .messageTooLarge : .invalidMessage
            throw AMQPError(code, "basic.publish to '\(message.routingKey)': \(statusText(status)); connection abandoned (\(endpoint))")
        }
        try checkStatus(status, "basic.publish")
    }

    func ack(channel: UInt16, tag: UInt64, multiple: Bool = false) throws {
        try checkStatus(amqp_basic_ack(state, channel, tag, multiple ? 1 : 0), "basic.ack")
    }

    func reject(channel: UInt16, tag: UInt64, requeue: Bool) throws {
        try checkStatus(amqp_basic_reject(state, channel, tag, requeue ? 1 : 0), "basic.reject")
    }

    func nack(channel: UInt16, tag: UInt64, requeue: Bool) throws {
        try checkStatus(amqp_basic_nack(state, channel, tag, 0, requeue ? 1 : 0), "basic.nack")
    }

    // MARK: Reading

    /// Returns the next frame if one is complete, nil if none is ready now. Also sends our
    /// heartbeat when due and reports a dead peer (`connectionLost`) after two missed ones.
    func nextFrame() throws -> amqp_frame_t? {
        if !heldFrames.isEmpty { return heldFrames.removeFirst() }
        var frame = amqp_frame_t()
        var immediate = timeval(tv_sec: 0, tv_usec: 0)
        let status = amqp_simple_wait_frame_noblock(state, &frame, &immediate)
        if status == AMQP_STATUS_TIMEOUT.rawValue { return nil }
        try checkStatus(status, "reading from broker")
        return frame
    }

    /// Returns rabbitmq-c's decoding pools once nothing decoded is referenced any more.
    func releaseBuffers() {
        // A held frame's decoded method and body live in its channel's pool until it is handled.
        guard heldFrames.isEmpty else { return }
        amqp_maybe_release_buffers(state)
    }

    /// Answers a broker-initiated close of `channel`.
    func acknowledgeChannelClose(_ channel: UInt16) {
        var ok = amqp_channel_close_ok_t(dummy: 0)
        _ = amqp_send_method(state, channel, Method.channelCloseOk, &ok)
        openChannels.remove(channel)
    }

    /// Answers a broker-initiated connection close; the session is dead afterwards.
    func acknowledgeConnectionClose() {
        var ok = amqp_connection_close_ok_t(dummy: 0)
        _ = amqp_send_method(state, 0, Method.connectionCloseOk, &ok)
        isOpen = false
    }

    /// Marks the session dead without a closing handshake (socket already gone).
    func abandon() {
        isOpen = false
    }

    // MARK: Errors

    private func checkStatus(_ status: Int32, _ context: String) throws {
        guard status != AMQP_STATUS_OK.rawValue else { return }
        isOpen = false
        throw AMQPError(.connectionLost, "\(context): \(statusText(status)) (\(endpoint))")
    }

    func check(_ reply: amqp_rpc_reply_t, _ context: String, channel: UInt16 = 0) throws {
        switch reply.reply_type {
        case AMQP_RESPONSE_NORMAL:
            return
        case AMQP_RESPONSE_SERVER_EXCEPTION:
            if reply.reply.id == Method.channelClose, let decoded = reply.reply.decoded {
                let close = decoded.assumingMemoryBound(to: amqp_channel_close_t.self).pointee
                let text = close.reply_text.string
                acknowledgeChannelClose(channel)
                throw AMQPError(Self.code(forReply: close.reply_code), "\(context): \(text)", replyCode: close.reply_code)
            }
            if reply.reply.id == Method.connectionClose, let decoded = reply.reply.decoded {
                let close = decoded.assumingMemoryBound(to: amqp_connection_close_t.self).pointee
                let text = close.reply_text.string
                acknowledgeConnectionClose()
                throw AMQPError(.connectionLost, "\(context): broker closed the connection: \(text)", replyCode: close.reply_code)
            }
            isOpen = false
            throw AMQPError(.protocolError, "\(context): unexpected server method 0x\(String(reply.reply.id, radix: 16))")
        case AMQP_RESPONSE_LIBRARY_EXCEPTION:
            isOpen = false
            throw AMQPError(.connectionLost, "\(context): \(statusText(reply.library_error)) (\(endpoint))")
        default:
            isOpen = false
            throw AMQPError(.protocolError, "\(context): no reply")
        }
    }

    private func describe(_ reply: amqp_rpc_reply_t) -> String {
        switch reply.reply_type {
        case AMQP_RESPONSE_LIBRARY_EXCEPTION: return statusText(reply.library_error)
        case AMQP_RESPONSE_SERVER_EXCEPTION:
            if reply.reply.id == Method.connectionClose, let decoded = reply.reply.decoded {
                return decoded.assumingMemoryBound(to: amqp_connection_close_t.self).pointee.reply_text.string
            }
            return "server exception 0x\(String(reply.reply.id, radix: 16))"
        default: return "no reply"
        }
    }

    static func code(forReply replyCode: UInt16) -> AMQPError.Code {
        switch replyCode {
        case 404: return .notFound
        case 406: return .preconditionFailed
        case 403: return .accessRefused
        case 405: return .resourceLocked
        default: return .channelClosed
        }
    }
}
