import CRabbitMQ
import DequeModule
import IOSupport

/// What the loop does with each command a caller submitted: publishes into the outbox, settlements,
/// declarations and other control operations (deferred to the next connection when cut off).
extension ConnectionLoop {

    func handle(_ command: Command) {
        guard let session else {
            switch command {
            case let .close(c): closing = c
            case let .publish(items): outbox.append(contentsOf: items)
            case .settle: break
            default: deferred.append(command)
            }
            return
        }
        switch command {
        case let .publish(items):
            outbox.append(contentsOf: items)
        case let .settle(requests):
            // Deliveries of an older incarnation were requeued by the broker already.
            for request in requests where request.generation == generation {
                settlements.append((request.tag, request.settlement))
            }
        case let .declare(declarations, remember, completion):
            controlOperation(completion, retrying: command) {
                for declaration in declarations {
                    do {
                        try session.declare(declaration, channel: Self.controlChannel)
                    } catch let error as AMQPError where error.code == .preconditionFailed && declaration.acceptsExisting {
                        try session.openChannel(Self.controlChannel)
                    }
                    if remember && !self.topology.contains(declaration) { self.topology.append(declaration) }
                }
            }
        case let .consume(registration, completion):
            consumers.removeAll { $0.tag == registration.tag }
            do {
                try session.qos(channel: Self.mainChannel, prefetch: registration.options.prefetch)
                try session.consume(channel: Self.mainChannel, queue: registration.queue, tag: registration.tag,
                                    options: registration.options)
                consumers.append(registration)
                completion.succeed(())
            } catch let error as AMQPError {
                // The main channel is gone either way; a refusal (404 …) is the caller's to hear,
                // a dead connection is retried after reconnecting.
                if error.replyCode != nil { completion.fail(error) } else { deferred.append(command) }
                lose(error)
            } catch {
                completion.fail(AMQPError(.protocolError, "\(error)"))
            }
        case let .cancelConsumers(completion):
            let cancelled = consumers
            consumers.removeAll()
            runOrLose {
                for consumer in cancelled { try session.cancel(channel: Self.mainChannel, tag: consumer.tag) }
            }
            completion.succeed(())
        case let .cancelConsumer(tag, completion):
            let found = consumers.contains { $0.tag == tag }
            consumers.removeAll { $0.tag == tag }
            if found { runOrLose { try session.cancel(channel: Self.mainChannel, tag: tag) } }
            completion.succeed(())
        case let .inspect(queue, completion):
            controlOperation(completion, retrying: command) { try session.inspect(queue: queue, channel: Self.controlChannel) }
        case let .purge(queue, completion):
            controlOperation(completion) { try session.purge(queue: queue, channel: Self.controlChannel) }
        case let .deleteQueue(queue, completion):
            controlOperation(completion) { try session.delete(queue: queue, channel: Self.controlChannel) }
        case let .close(completion):
            closing = completion
        }
    }

    /// Runs a control-channel operation. A refusal (404, 406 …) goes to the caller and the
    /// control channel is reopened; a dead connection goes to the reconnect path. An idempotent
    /// operation (`retrying`: a declaration, a passive declare) that died with its connection
    /// (a socket error, an RPC the broker did not answer in time, a forced close) runs again on
    /// the next connection, within its own deadline, as publishes are re-sent: a broker that
    /// stalls for a moment under load must not fail a caller whose deadline is still ahead.
    private func controlOperation<T: Sendable>(_ completion: Completion<T>, retrying command: Command? = nil, _ body: () throws -> T) {
        do {
            completion.succeed(try body())
        } catch let error as AMQPError where error.replyCode != nil && session?.isOpen == true {
            completion.fail(error)
            runOrLose { try session?.openChannel(Self.controlChannel) }
        } catch let error as AMQPError {
            if let command, error.replyCode == nil || error.replyCode == Self.connectionForced {
                deferred.append(command)
            } else {
                completion.fail(error)
            }
            lose(error)
        } catch {
            completion.fail(AMQPError(.protocolError, "\(error)"))
        }
    }

    /// CONNECTION_FORCED: the broker (or an operator) closed the connection, not the operation.
    private static let connectionForced: UInt16 = 320

    private func runOrLose(_ body: () throws -> Void) {
        do {
            try body()
        } catch let error as AMQPError {
            lose(error)
        } catch {
            lose(AMQPError(.protocolError, "\(error)"))
        }
    }
}
