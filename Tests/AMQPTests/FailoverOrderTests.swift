import AMQP
import Foundation
import IOSupport
import Testing
import TestSupport

@Suite("Failover list order")
struct FailoverOrderTests {
    @Test("after losing its connection, the next try goes to the next broker of the list, not back to the one that dropped it")
    func lostConnectionMovesOn() async throws {
        try TestEnvironment.requireServices()
        // A TCP proxy in front of the test broker stands for the first node: it accepts
        // connections and, when reset, drops them all while it goes on accepting new ones.
        let proxy = try await FaultProxy.start(target: 5672)
        let port = proxy.port

        let viaProxy = try AMQPEndpoint.list("amqp://guest:guest@127.0.0.1:\(port)/%2F")
        let direct = try AMQPEndpoint.list(TestEnvironment.brokerURL)
        let recorder = LogRecorder()
        let configuration = AMQPConnection.Configuration(endpoints: viaProxy + direct, name: "amqp-tests-failover-order",
                                                         rpcTimeout: 5, publishTimeout: 60, operationTimeout: 60)
        let connection = try AMQPConnection(configuration: configuration, logger: recorder.logger(label: "amqp-tests"))
        do {
            try await connection.waitUntilConnected(timeout: 60)
            #expect(recorder.count("amqp connected", where: "broker", is: "\(viaProxy[0])") == 1)

            proxy.reset()
            try await eventually(timeout: 60, "a reconnect after the reset") { recorder.count("amqp connected") == 2 }
            #expect(recorder.count("amqp connected", where: "broker", is: "\(direct[0])") == 1)
            #expect(recorder.count("amqp connected", where: "broker", is: "\(viaProxy[0])") == 1, "it went back to the node that dropped it")
            #expect(recorder.count("amqp connection failed") == 0)
            try await TestBroker.withQueue(on: connection, "failover-order") { queue in
                try await connection.publish(OutgoingMessage(routingKey: queue, body: [1]))
            }
        } catch {
            await connection.close()
            try? await proxy.stop()
            throw error
        }
        await connection.close()
        try await proxy.stop()
    }
}
