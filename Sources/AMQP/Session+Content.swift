import CRabbitMQ

extension Session {
    /// The largest body a broker may announce: RabbitMQ's hard limit, 512 MiB.
    static let largestBody: UInt64 = 512 << 20

    /// Reads the content header and body that follow a `basic.deliver` or `basic.return`,
    /// straight from rabbitmq-c's frames: the properties from the header frame as decoded in
    /// the connection's pool, the body copied once from each body frame into its array.
    /// (`amqp_read_message` would copy both into a message pool and a body buffer of their own
    /// first: two allocations and a copy per delivery.) Fails as it would: a channel or
    /// connection close instead of content is the broker's error, any other frame a dead session.
    func readContent(channel: UInt16, strings: inout RecentStrings) throws -> (BasicProperties, [UInt8]) {
        let header = try contentFrame(channel: channel, type: FrameType.header)
        let properties = BasicProperties(header.payload.properties.decoded.assumingMemoryBound(to: amqp_basic_properties_t.self).pointee,
                                         strings: &strings)
        // RabbitMQ refuses bodies over 512 MiB (its `max_message_size` cannot be set higher): a
        // larger size announced is a broken stream, and no array of it is allocated.
        guard header.payload.properties.body_size <= Self.largestBody else {
            abandon()
            throw AMQPError(.protocolError, "reading message content: a body of \(header.payload.properties.body_size) bytes")
        }
        let size = Int(header.payload.properties.body_size)
        let body = try [UInt8](unsafeUninitializedCapacity: size) { buffer, initialized in
            while initialized < size {
                let fragment = try contentFrame(channel: channel, type: FrameType.body).payload.body_fragment
                guard fragment.len <= size - initialized else {
                    abandon()
                    throw AMQPError(.protocolError, "reading message content: body frames longer than the \(size) bytes announced")
                }
                if fragment.len > 0, let bytes = fragment.bytes, let base = buffer.baseAddress {
                    (base + initialized).update(from: bytes.assumingMemoryBound(to: UInt8.self), count: fragment.len)
                }
                initialized += fragment.len
            }
        }
        return (properties, body)
    }

    /// The next frame on `channel`, which must be of `type`.
    private func contentFrame(channel: UInt16, type: UInt8) throws -> amqp_frame_t {
        var frame = amqp_frame_t()
        var reply = amqp_rpc_reply_t()
        var status = amqp_simple_wait_frame(state, &frame)
        // Confirms and returns of another publishing channel, or a `connection.blocked`, may come
        // between; they wait their turn. A connection close ends the read.
        while status == AMQP_STATUS_OK.rawValue, frame.channel != channel,
              !(frame.frame_type == FrameType.method && frame.payload.method.id == Method.connectionClose) {
            heldFrames.append(frame)
            status = amqp_simple_wait_frame(state, &frame)
        }
        if status != AMQP_STATUS_OK.rawValue {
            reply.reply_type = AMQP_RESPONSE_LIBRARY_EXCEPTION
            reply.library_error = status
        } else if frame.frame_type == type {
            return frame
        } else if frame.frame_type == FrameType.method,
                  frame.payload.method.id == Method.channelClose || frame.payload.method.id == Method.connectionClose {
            reply.reply_type = AMQP_RESPONSE_SERVER_EXCEPTION
            reply.reply = frame.payload.method
        } else {
            abandon()
            throw AMQPError(.protocolError, "reading message content: frame type \(frame.frame_type) where \(type) was due")
        }
        try check(reply, "reading message content", channel: channel)
        // `check` throws for every reply but a normal one, which this is not.
        throw AMQPError(.protocolError, "reading message content: no content")
    }
}
