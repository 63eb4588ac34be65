import AMQP
import Foundation
import IOSupport
import Testing
import TestSupport
#if canImport(Glibc)
import Glibc
#endif

@Suite("Failover list order")
struct FailoverOrderTests {
    /// A port nobody listens on now (the kernel's pick), for the proxy to take.
    private func unusedPort() throws -> UInt16 {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw TimedOut("cannot create a socket") }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0 }
        }
        guard bound else { throw TimedOut("cannot bind a socket to find a free port") }
        return UInt16(bigEndian: address.sin_port)
    }

    @Test("after losing its connection, the next try goes to the next broker of the list, not back to the one that dropped it")
    func lostConnectionMovesOn() async throws {
        try TestEnvironment.requireServices()
        let port = try unusedPort()
        // A TCP proxy in front of the test broker stands for the first node: it accepts
        // connections and, on SIGUSR2, resets them all while it goes on accepting new ones.
        let proxy = try ManagedProcess(URL(fileURLWithPath: "/usr/bin/python3"),
                                       [TestEnvironment.repoRoot.appendingPathComponent("ops/lib/fault_proxy.py").path, "\(port)", "5672"],
                                       name: "failover-proxy")
        defer { proxy.signal(SIGKILL) }
        try await eventually(timeout: 10, "the proxy listening on \(port)") { TestEnvironment.portOpen(port) }

        let viaProxy = try AMQPEndpoint.list("amqp://guest:guest@127.0.0.1:\(port)/%2F")
        let direct = try AMQPEndpoint.list(TestEnvironment.brokerURL)
        let recorder = LogRecorder()
        let configuration = AMQPConnection.Configuration(endpoints: viaProxy + direct, name: "amqp-tests-failover-order",
                                                         rpcTimeout: 5, publishTimeout: 10, operationTimeout: 10)
        let connection = try AMQPConnection(configuration: configuration, logger: recorder.logger(label: "amqp-tests"))
        do {
            try await connection.waitUntilConnected(timeout: 10)
            #expect(recorder.count("amqp connected", where: "broker", is: "\(viaProxy[0])") == 1)

            proxy.signal(SIGUSR2)
            try await eventually(timeout: 15, "a reconnect after the reset") { recorder.count("amqp connected") == 2 }
            #expect(recorder.count("amqp connected", where: "broker", is: "\(direct[0])") == 1)
            #expect(recorder.count("amqp connected", where: "broker", is: "\(viaProxy[0])") == 1, "it went back to the node that dropped it")
            #expect(recorder.count("amqp connection failed") == 0)
            try await TestBroker.withQueue(on: connection, "failover-order") { queue in
                try await connection.publish(OutgoingMessage(routingKey: queue, body: [1]))
            }
        } catch {
            await connection.close()
            throw error
        }
        await connection.close()
    }
}
