@testable import Conveyor
import AMQP
import Foundation
import Logging
import Testing
import TestSupport

/// The fleet's control channel (revoke with terminate) lives in Redis. A worker that starts
/// while Redis is down takes tasks at once, says that the channel is not subscribed, and
/// subscribes as soon as Redis answers. Everything waits on log events and states.
@Suite("Control channel with Redis down at start")
struct ControlListenerTests {
    @Test("intake runs at once, the failure is logged, and revoke with terminate works once Redis is up")
    func redisDownAtStart() async throws {
        try TestEnvironment.requireServices()
        let queue = TestEnvironment.uniqueQueue("control-late")
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("conveyor-test-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let socket = directory.appendingPathComponent("redis.sock").path
        var configuration = TestEnvironment.configuration(queue: queue)
        configuration.resultURL = "unix://\(socket)"
        let logs = LogRecorder()
        let worker = try await TestWorker(queue: queue, concurrency: 4, configuration: configuration, gracePeriod: 5, logs: logs)

        try await eventually(timeout: 60, "the worker saying its control channel is not subscribed") {
            logs.count("control channel not subscribed yet: revoke with terminate cannot reach this worker until Redis answers") >= 1
        }
        // Intake does not wait for Redis: a message from an older Celery client with an ETA an
        // hour ahead goes into the delay cascade, which needs only the broker.
        let message = try TaskOptions(eta: Date().addingTimeInterval(3600)).message(task: "conveyor.add", args: [1, 2], kwargs: [:])
        try await worker.worker.client.publisher.connection.publish(message.outgoing(queue: queue))
        try await eventually(timeout: 60, "the far-ETA task delayed") { logs.count("task delayed", where: "id", is: message.id) == 1 }
        #expect(!worker.worker.isListeningForControl)

        let redis = try ManagedProcess(URL(fileURLWithPath: "/usr/bin/redis-server"),
                                       ["--port", "0", "--unixsocket", socket, "--save", "", "--appendonly", "no"], name: "redis-control-late")
        // The worker sets its flag, then logs: wait for the later of the two, so both hold.
        try await eventually(timeout: 60, "the worker subscribing once Redis answers") { logs.count("control channel subscribed") >= 1 }
        #expect(worker.worker.isListeningForControl)
        #expect(logs.count("control channel subscribed") == 1)

        var quiet = Logger(label: "test.client")
        quiet.logLevel = .critical
        let client = try ConveyorClient(configuration: configuration, logger: quiet)
        let long = try await client.send(taskNamed: "conveyor.sleep", args: [3600])
        try await eventually(timeout: 60, "the long task started") { logs.count("task started", where: "id", is: long.id) == 1 }
        try await client.revoke([long.id], terminate: true)
        // The client stores REVOKED itself; the worker's own record says the run was stopped.
        try await eventually(timeout: 60, "the worker terminating the run") {
            logs.count("task revoked", where: "reason", is: "terminated") == 1
        }
        #expect(logs.count("task revoked", where: "id", is: long.id) == 1)
        #expect(try await client.wait(for: long.id, timeout: 60).state == .revoked)

        await client.close()
        try await worker.stop()
        redis.signal(SIGTERM)
        try await redis.waitForExit(timeout: 60)
    }
}
