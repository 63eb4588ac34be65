import AMQP
import Foundation
import Synchronization
import Testing
import TestSupport

/// `amqps://` through rabbitmq-c's OpenSSL socket, against a private RabbitMQ node with a TLS
/// listener and a throwaway CA (started by `ops/lib/fault-services rabbit-start-tls`).
@Suite("TLS (amqps://) with peer verification", .serialized)
struct TLSTests {
    static let node = "tlstest"
    static let tlsPort = 5685

    static var caFile: String {
        TestEnvironment.repoRoot.appendingPathComponent(".services/faults/rabbit-\(node)/tls/ca.pem").path
    }

    /// Starts the private TLS node (idempotent; the test process stops it in `stopNode`).
    static func startNode() async throws {
        try TestEnvironment.requireServices()
        let script = TestEnvironment.repoRoot.appendingPathComponent("ops/lib/fault-services")
        let start = try ManagedProcess(script, ["rabbit-start-tls", node, "5684", "25684", "\(tlsPort)"], name: "tls-node")
        let status = try await start.waitForExit(timeout: 120)
        guard status == 0 else { throw MissingService("could not start the private TLS node: \(start.log)") }
    }

    static func stopNode() async {
        let script = TestEnvironment.repoRoot.appendingPathComponent("ops/lib/fault-services")
        if let stop = try? ManagedProcess(script, ["rabbit-kill", node], name: "tls-node-stop") {
            _ = try? await stop.waitForExit(timeout: 60)
        }
    }

    @Test("a connection verified against the right CA works end to end; the wrong trust store is refused; verify=false connects")
    func tlsConnections() async throws {
        try await Self.startNode()
        do {
            // Trusted through the test CA, host name checked against the certificate (localhost).
            let good = try AMQPEndpoint(url: "amqps://guest:guest@localhost:\(Self.tlsPort)/%2F?cacertfile=\(Self.caFile)")
            #expect(good.tls && good.verifyPeer)
            let connection = try TestBroker.connection(to: good, name: "tls-good")
            try await connection.waitUntilConnected(timeout: hangGuard)
            try await TestBroker.withQueue(on: connection, "tls") { queue in
                let received = Mutex<[Delivery]>([])
                try await connection.consume(queue: queue, options: ConsumerOptions(prefetch: 10)) { delivery in
                    received.withLock { $0.append(delivery) }
                    connection.ack(delivery)
                }
                try await connection.publish(OutgoingMessage(routingKey: queue, body: Array("over TLS".utf8)))
                try await eventually(timeout: hangGuard, "the message back over TLS") { received.withLock { !$0.isEmpty } }
                #expect(received.withLock { $0.first?.body } == Array("over TLS".utf8))
            }
            await connection.close()

            // The system trust store does not know the test CA: the handshake is refused.
            let untrusted = try AMQPEndpoint(url: "amqps://guest:guest@localhost:\(Self.tlsPort)/%2F")
            let refused = try TestBroker.connection(to: untrusted, name: "tls-untrusted")
            try await TestBroker.firstAttemptFailed(refused)
            let error = await #expect(throws: AMQPError.self) { try await refused.waitUntilConnected(timeout: 3) }
            #expect(error?.code == .connectionFailed)
            #expect(error?.message.lowercased().contains("ssl") == true || error?.message.lowercased().contains("verif") == true,
                    "\(error?.message ?? "")")
            await refused.close()

            // Verification off (not recommended) connects without the CA.
            let unverified = try AMQPEndpoint(url: "amqps://guest:guest@localhost:\(Self.tlsPort)/%2F?verify=false")
            #expect(!unverified.verifyPeer)
            let loose = try TestBroker.connection(to: unverified, name: "tls-unverified")
            try await loose.waitUntilConnected(timeout: hangGuard)
            await loose.close()
        } catch {
            await Self.stopNode()
            throw error
        }
        await Self.stopNode()
    }
}
