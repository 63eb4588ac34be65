import AMQP
import IOSupport
import Logging
import Redis
import Synchronization

/// One of a worker's loops and what it steps (`WorkerOptions.loops`): a consumer connection
/// subscribed to every work queue with its share of the prefetch, a Redis connection for
/// admissions and results, the deliveries waiting for a slot and the results on their way. A
/// delivery stays on its lane from intake to acknowledgement, so its life has no hand-off between
/// threads; lanes share only the worker's slots.
final class WorkerLane: Sendable {
    let index: Int
    let loop: LoopExecutor
    let consumer: AMQPConnection
    /// Admissions and successes of this lane's tasks. The first lane's is the client's store;
    /// every other lane has a Redis connection of its own (`ownRedis`).
    let store: ResultStore
    let ownRedis: RedisConnection?
    /// Unacknowledged messages this lane's consumer holds per queue.
    let prefetch: UInt16
    let inbox = DeliveryInbox()
    let results: ResultFlusher

    /// The first lane: the client's Redis connection, already hosted by `loop`.
    init(loop: LoopExecutor, client: ConveyorClient, consumer: AMQPConnection, prefetch: UInt16) {
        index = 0
        self.loop = loop
        self.consumer = consumer
        store = client.results
        ownRedis = nil
        self.prefetch = prefetch
        results = ResultFlusher(loop: loop)
    }

    /// Lane `index` (1 or more), with a consumer and a Redis connection of its own.
    init(index: Int, configuration: ConveyorConfiguration, hostname: String, prefetch: UInt16, logger: Logger) throws {
        self.index = index
        loop = try LoopExecutor(name: "worker loop \(index + 1)")
        var amqp = AMQPConnection.Configuration(endpoints: try configuration.brokerEndpoints(),
                                                name: "\(hostname) consumer \(index + 1)", confirms: false)
        amqp.origin = index
        consumer = try AMQPConnection(configuration: amqp, logger: logger, host: loop)
        let endpoint = try configuration.resultEndpoint()
        let redis = try RedisConnection(configuration: .init(endpoint: endpoint, name: "\(hostname) results \(index + 1)",
                                                             queueTimeout: configuration.connectTimeout),
                                        logger: logger, host: loop)
        ownRedis = redis
        store = ResultStore(redis: redis, ttl: configuration.resultTTL)
        self.prefetch = prefetch
        results = ResultFlusher(loop: loop)
    }

    /// Lane `index`'s share of `prefetch` over `count` lanes: the remainder goes to the first
    /// lanes, and every lane holds at least one message.
    static func prefetch(_ prefetch: UInt16, lane index: Int, of count: Int) -> UInt16 {
        let total = Int(prefetch)
        let share = total / count + (index < total % count ? 1 : 0)
        return UInt16(clamping: max(1, share))
    }
}

/// The lanes' consumer connections as the worker uses them: each delivery is settled on the
/// connection it came from (`Delivery.origin`), queues are consumed and cancelled on every lane,
/// and the broker counts as connected while every lane is.
struct WorkerConsumers: Sendable {
    let lanes: [WorkerLane]

    /// The lane a delivery came from (the first for an origin no lane has, which no connection
    /// of this worker stamps).
    func lane(of delivery: Delivery) -> WorkerLane {
        lanes.indices.contains(delivery.origin) ? lanes[delivery.origin] : lanes[0]
    }

    func ack(_ delivery: Delivery) {
        lane(of: delivery).consumer.ack(delivery)
    }

    /// Acknowledges several deliveries with one hand-off per lane they came from.
    func ack(_ deliveries: some Sequence<Delivery>) {
        guard lanes.count > 1 else { return lanes[0].consumer.ack(deliveries) }
        var byLane = [[Delivery]](repeating: [], count: lanes.count)
        for delivery in deliveries { byLane[lane(of: delivery).index].append(delivery) }
        for (lane, settled) in zip(lanes, byLane) where !settled.isEmpty { lane.consumer.ack(settled) }
    }

    func reject(_ delivery: Delivery, requeue: Bool) {
        lane(of: delivery).consumer.reject(delivery, requeue: requeue)
    }

    /// `.connected` while every lane's consumer is; otherwise the first other lane's state.
    var state: ConnectionState { .combined(lanes.lazy.map(\.consumer.state)) }

    /// Calls `observer` whenever a lane's connection changes state, with whether every lane's
    /// is connected now.
    func onStateChange(_ observer: @escaping @Sendable (_ allConnected: Bool) -> Void) {
        let combined = CombinedConnectionState(count: lanes.count)
        for lane in lanes {
            let index = lane.index
            lane.consumer.onStateChange { observer(combined.update(index, $0)) }
        }
    }

    /// Every Redis connection the lanes admit and store on (the first is the client's).
    func redisConnections(client: RedisConnection) -> [RedisConnection] {
        [client] + lanes.compactMap(\.ownRedis)
    }

    func start() {
        for lane in lanes { lane.consumer.start() }
    }

    /// Declares on every lane's connection, which each declare again after a reconnect of their own.
    func declare(_ declarations: [TopologyDeclaration], timeout: Double) async throws {
        for lane in lanes { try await lane.consumer.declare(declarations, timeout: timeout) }
    }

    /// Consumes `queue` on every lane, each with its share of the prefetch into its own inbox;
    /// all or none: when one lane fails, those that already consume stop again.
    /// - Returns: the consumer tags, one per lane in lane order.
    func consume(queue: String, timeout: Double) async throws -> [String] {
        var tags: [String] = []
        do {
            for lane in lanes {
                let inbox = lane.inbox
                tags.append(try await lane.consumer.consume(queue: queue, options: ConsumerOptions(prefetch: lane.prefetch),
                                                            timeout: timeout) { delivery in inbox.append(delivery) })
            }
        } catch {
            try? await cancelConsumer(tags: tags, timeout: timeout)
            throw error
        }
        return tags
    }

    /// Stops consuming `tags` (one per lane, as `consume` returned them).
    func cancelConsumer(tags: [String], timeout: Double) async throws {
        for (lane, tag) in zip(lanes, tags) { try await lane.consumer.cancelConsumer(tag: tag, timeout: timeout) }
    }

    /// Stops every consumer on every lane, side by side.
    func cancelConsumers(timeout: Double) async throws {
        try await withThrowingTaskGroup(of: Void.self) { group in
            for lane in lanes { group.addTask { try await lane.consumer.cancelConsumers(timeout: timeout) } }
            try await group.waitForAll()
        }
    }

    /// Closes every lane's consumer and own Redis connection, side by side: closing a consumer
    /// hands its unacknowledged messages back to the broker.
    func close() async {
        await withTaskGroup(of: Void.self) { group in
            for lane in lanes {
                group.addTask { await lane.consumer.close() }
                if let redis = lane.ownRedis { group.addTask { await redis.close() } }
            }
        }
    }

    /// Ends every lane's intake and puts what waited for a slot back on its queue, once the
    /// consumers are cancelled (so the broker does not deliver it straight back here).
    /// - Returns: how many were put back.
    func finishAndRequeueWaiting() -> Int {
        var requeued = 0
        for lane in lanes {
            while let delivery = lane.inbox.poll() {
                lane.consumer.reject(delivery, requeue: true)
                requeued += 1
            }
        }
        // Afterwards: an intake that waits for a delivery ends with this, and the drain waits
        // for every intake, so the worker closes no connection before all is put back.
        for lane in lanes { lane.inbox.finish() }
        return requeued
    }

    /// Deliveries waiting for a slot on every lane (`inspect reserved`).
    var waiting: [Delivery] { lanes.flatMap(\.inbox.waiting) }

    /// How many deliveries wait for a slot on every lane.
    var waitingCount: Int { lanes.reduce(0) { $0 + $1.inbox.count } }
}

extension ConnectionState {
    /// Several connections as one: `.connected` while every one of `states` is, otherwise the
    /// first other state.
    static func combined(_ states: some Sequence<ConnectionState>) -> ConnectionState {
        states.first { $0 != .connected } ?? .connected
    }
}

/// The last state each of several connections reported, for an observer of them all together.
/// Observers hold this, not the connections, which hold their observers.
final class CombinedConnectionState: Sendable {
    private let states: Mutex<[ConnectionState]>

    init(count: Int) {
        states = Mutex(Array(repeating: .connecting, count: count))
    }

    /// Records connection `index`'s new state.
    /// - Returns: whether every connection is connected now.
    func update(_ index: Int, _ state: ConnectionState) -> Bool {
        states.withLock { states in
            if states.indices.contains(index) { states[index] = state }
            return states.allSatisfy { $0 == .connected }
        }
    }
}
