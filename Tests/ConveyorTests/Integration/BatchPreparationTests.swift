@testable import Conveyor
import AMQP
import Foundation
import Logging
import Synchronization
import Testing
import TestSupport

/// A batch is prepared at once: a delivery that has to wait (a near ETA) waits on its own. The
/// worker's clock is a manual one here, so the ETA task cannot start before the test moves time,
/// and the order of events says everything (no duration is measured).
@Suite("A delivery's wait never holds up its batch")
struct BatchPreparationTests {
    @Test("a task whose ETA is 0.9 s ahead waits on its own: the rest of its batch completes before it starts")
    func nearETADoesNotHoldUpItsBatch() async throws {
        try TestEnvironment.requireServices()
        let queue = TestEnvironment.uniqueQueue("batch-eta")
        let clock = ManualWallClock()
        let events = Mutex<[String]>([])
        var registry = TaskRegistry()
        registry.register("test.quick") { context in
            events.withLock { $0.append("finished \(context.id)") }
            return .null
        }
        registry.register("test.eta") { _ in
            events.withLock { $0.append("eta started") }
            return .null
        }
        var logger = Logger(label: "test.worker")
        logger.logLevel = ProcessInfo.processInfo.environment["CONVEYOR_TEST_LOG"] == nil ? .critical : .debug
        let worker = try Worker(configuration: TestEnvironment.configuration(queue: queue),
                                options: WorkerOptions(queues: [queue], concurrency: 8, hostname: "batch-eta@\(queue)",
                                                       shutdownGracePeriod: 5, storeRetryWindow: 10),
                                registry: registry, logger: logger, clock: clock)
        let running = Task { try await worker.run() }
        try await eventually(timeout: 60, "worker on \(queue) ready") { worker.isReady }

        // Deliveries as the consumer would hand them over. Generation 0 is no connection's, so
        // their acknowledgements go nowhere.
        func delivery(_ task: String, eta: Date? = nil, tag: UInt64) throws -> Delivery {
            let message = try TaskOptions(eta: eta).message(task: task, args: [], kwargs: [:], now: clock.now)
            let outgoing = worker.client.publisher.outgoing(message, queue: queue, now: clock.now)
            return Delivery(queue: queue, consumerTag: "test", deliveryTag: tag, redelivered: false, exchange: "", routingKey: queue,
                            properties: outgoing.properties, body: outgoing.body, generation: 0)
        }
        let eta = clock.now.addingTimeInterval(0.9)
        let batch = try [delivery("test.eta", eta: eta, tag: 1)] + (2...4).map { try delivery("test.quick", tag: UInt64($0)) }
        // Each delivery holds a slot until it is handled, as the intake hands them over.
        for _ in batch { #expect(worker.slots.tryAcquire()) }

        let handled = Mutex(false)
        Task {
            await worker.handle(batch)
            handled.withLock { $0 = true }
        }
        try await eventually(timeout: 60, "the rest of the batch finishing") {
            events.withLock { $0.filter { $0.hasPrefix("finished") }.count } == 3
        }
        try await eventually(timeout: 60, "the batch handed over and the ETA task waiting on its own") {
            handled.withLock { $0 } && clock.sleepsBegun == 1
        }
        #expect(!events.withLock { $0 }.contains("eta started"))

        // Past it, not onto it: the message carries the ETA in microseconds, which may round up.
        clock.advance(to: eta.addingTimeInterval(1))
        try await eventually(timeout: 60, "the ETA task starting once its time came") { events.withLock { $0 }.contains("eta started") }
        #expect(events.withLock { $0 }.count == 4)
        #expect(events.withLock { $0 }.last == "eta started")

        worker.shutdown()
        try await running.value
    }
}
