import Conveyor
import Diagnostics
import Foundation
import Logging

/// A worker running inside the test process, with the diagnostic tasks and any extra ones.
public final class TestWorker: Sendable {
    public let worker: Worker
    public let queue: String
    private let runTask: Task<Void, Error>

    /// Starts consuming `queue` and returns once the worker is ready.
    public init(queue: String, concurrency: Int = 8, prefetch: Int? = nil, configuration: ConveyorConfiguration? = nil,
                gracePeriod: Double = 5, poisonAfter: Int = 5, hostname: String? = nil, heartbeatInterval: Double = 5,
                loops: Int? = nil, logs: LogRecorder? = nil, register: (inout TaskRegistry) -> Void = { _ in }) async throws {
        try TestEnvironment.requireServices()
        var registry = TaskRegistry()
        Diagnostics.register(into: &registry)
        register(&registry)
        var logger = Logger(label: "test.worker")
        logger.logLevel = ProcessInfo.processInfo.environment["CONVEYOR_TEST_LOG"] == nil ? .critical : .debug
        if let logs { logger = logs.logger(label: "test.worker") }
        var options = WorkerOptions(queues: [queue], concurrency: concurrency, prefetch: prefetch,
                                    hostname: hostname ?? "test@\(queue)", shutdownGracePeriod: gracePeriod, storeRetryWindow: 10,
                                    maxUnfinishedRuns: poisonAfter, heartbeatInterval: heartbeatInterval)
        // Each loop holds at least one message of the prefetch.
        options.loops = loops ?? min(TestEnvironment.workerLoops, prefetch ?? concurrency * 4)
        worker = try Worker(configuration: configuration ?? TestEnvironment.configuration(queue: queue), options: options,
                            registry: registry, logger: logger)
        self.queue = queue
        let worker = self.worker
        runTask = Task { try await worker.run() }
        try await eventually(timeout: 60, "worker on \(queue) ready") { worker.isReady }
    }

    /// Waits until `celery inspect` and `celery control` reach the worker: its pidbox queue is
    /// bound a moment after it starts consuming, and a broadcast sent before that is not seen.
    public func waitForRemoteControl() async throws {
        let worker = self.worker
        try await eventually(timeout: hangGuard, "remote control of the worker on \(queue) listening") { worker.isRemoteControlListening }
    }

    /// Warm shutdown; waits until the worker has stopped.
    public func stop(_ mode: ShutdownMode = .warm) async throws {
        worker.shutdown(mode)
        try await runTask.value
    }
}

/// A client on the test servers whose default queue is `queue`.
public func testClient(queue: String, createMissingQueues: Bool = true) throws -> ConveyorClient {
    var configuration = TestEnvironment.configuration(queue: queue)
    configuration.createMissingQueues = createMissingQueues
    var logger = Logger(label: "test.client")
    logger.logLevel = ProcessInfo.processInfo.environment["CONVEYOR_TEST_LOG"] == nil ? .critical : .debug
    return try ConveyorClient(configuration: configuration, logger: logger)
}
