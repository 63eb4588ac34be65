import CRabbitMQ
import IOSupport

/// What the I/O thread does with each frame the broker sends: deliveries to consumers,
/// confirms and returns to the confirm tracker of their channel, cancels and closes to the
/// reconnect path.
extension ConnectionLoop {
    func handle(frame: amqp_frame_t, session: Session) throws {
        guard frame.frame_type == FrameType.method else { return }
        let method = frame.payload.method
        switch method.id {
        case Method.basicDeliver:
            let deliver = method.decoded.assumingMemoryBound(to: amqp_basic_deliver_t.self).pointee
            let deliveryTag = deliver.delivery_tag
            let redelivered = deliver.redelivered != 0
            // Found by its bytes: the consumer's own tag and queue name are reused, not decoded again.
            let consumer = consumers.first { $0.tag.hasUTF8(deliver.consumer_tag.buffer) }
            let exchange = deliver.exchange.len == 0 ? "" : strings.string(deliver.exchange.buffer)
            let routingKey = consumer.map { $0.queue.hasUTF8(deliver.routing_key.buffer) } == true
                ? consumer?.queue ?? "" : strings.string(deliver.routing_key.buffer)
            let (properties, body) = try session.readContent(channel: frame.channel, strings: &strings)
            guard let consumer else {
                // A delivery racing a cancel: give it back rather than drop it.
                try session.reject(channel: frame.channel, tag: deliveryTag, requeue: true)
                return
            }
            if !consumer.options.noAck { acks.delivered(deliveryTag) }
            var delivery = Delivery(queue: consumer.queue, consumerTag: consumer.tag, deliveryTag: deliveryTag, redelivered: redelivered,
                                    exchange: exchange, routingKey: routingKey, properties: properties, body: body,
                                    generation: generation, noAck: consumer.options.noAck)
            delivery.origin = configuration.origin
            consumer.handler(delivery)
        case Method.basicAck:
            let ack = method.decoded.assumingMemoryBound(to: amqp_basic_ack_t.self).pointee
            confirm(channel: frame.channel, tag: ack.delivery_tag, multiple: ack.multiple != 0, acknowledged: true)
        case Method.basicNack:
            let nack = method.decoded.assumingMemoryBound(to: amqp_basic_nack_t.self).pointee
            confirm(channel: frame.channel, tag: nack.delivery_tag, multiple: nack.multiple != 0, acknowledged: false)
        case Method.basicReturn:
            let ret = method.decoded.assumingMemoryBound(to: amqp_basic_return_t.self).pointee
            let code = ret.reply_code
            let text = ret.reply_text.string
            let exchange = ret.exchange.string
            let routingKey = ret.routing_key.string
            let (properties, _) = try session.readContent(channel: frame.channel, strings: &strings)
            let target = exchange.isEmpty ? "queue '\(routingKey)'" : "exchange '\(exchange)' with routing key '\(routingKey)'"
            let error = AMQPError(.unroutable, "message returned unroutable: no \(target) (\(code) \(text))", replyCode: code)
            confirmTracker(for: frame.channel)?.returned(exchange: exchange, routingKey: routingKey,
                                                         correlationId: properties.correlationId, error: error)
        case Method.basicCancel:
            let cancel = method.decoded.assumingMemoryBound(to: amqp_basic_cancel_t.self).pointee
            let tag = cancel.consumer_tag.string
            let queue = consumers.first { $0.tag == tag }?.queue ?? tag
            // The queue was deleted or its node went away: reconnect, which re-declares and re-consumes.
            throw AMQPError(.connectionLost, "broker cancelled consumer of queue '\(queue)'")
        case Method.channelClose:
            let close = method.decoded.assumingMemoryBound(to: amqp_channel_close_t.self).pointee
            let text = close.reply_text.string
            session.acknowledgeChannelClose(frame.channel)
            if let refusal = PublishRefusal(replyCode: close.reply_code, text: text, classId: close.class_id, methodId: close.method_id) {
                refuse(refusal, channel: frame.channel)
            }
            throw AMQPError(Session.code(forReply: close.reply_code), "broker closed channel \(frame.channel): \(text)",
                            replyCode: close.reply_code)
        case Method.connectionClose:
            let close = method.decoded.assumingMemoryBound(to: amqp_connection_close_t.self).pointee
            let text = close.reply_text.string
            session.acknowledgeConnectionClose()
            throw AMQPError(.connectionLost, "broker closed the connection: \(text)", replyCode: close.reply_code)
        case Method.connectionBlocked:
            blocked = true
            logger.warning("amqp publishing blocked by broker (resource alarm)", metadata: ["connection": "\(configuration.name)"])
        case Method.connectionUnblocked:
            blocked = false
            logger.info("amqp publishing unblocked", metadata: ["connection": "\(configuration.name)"])
        default:
            break
        }
    }
}
