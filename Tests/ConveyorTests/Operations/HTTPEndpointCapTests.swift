import Foundation
#if canImport(Glibc)
import Glibc
#endif
import Logging
import MetricsEndpoint
import Testing
import TestSupport

/// The `/metrics` and `/healthz` server keeps at most `HTTPEndpoint.maxConnections` connections:
/// a client that opens sockets and never closes them cannot take the process's descriptors.
@Suite("The HTTP endpoint's connection cap")
struct HTTPEndpointCapTests {
    /// A TCP connection to 127.0.0.1:`port`, whose reads give up at the hang guard.
    private func connect(_ port: Int) throws -> Int32 {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw MissingService("socket(): errno \(errno)") }
        var timeout = timeval(tv_sec: Int(hangGuard), tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else {
            close(fd)
            throw MissingService("connect to 127.0.0.1:\(port): errno \(errno)")
        }
        return fd
    }

    @Test("past maxConnections a new connection is closed unread; once one closes, a scrape is answered again")
    func capsConnections() async throws {
        // Silent connections stay open for the whole test: on a loaded machine it has outlasted
        // the default 30 s, and the idle close emptied the server before the checks.
        let endpoint = try await HTTPEndpoint(address: ListenAddress(host: "127.0.0.1", port: 0), logger: Logger(label: "test.http"),
                                              idleTimeout: .hours(1)) { _, _ in
            .text(200, "ok\n")
        }
        let port = endpoint.address.port
        let cap = HTTPEndpoint.maxConnections
        var sockets: [Int32] = []
        defer { sockets.forEach { close($0) } }
        for _ in 0..<cap { sockets.append(try connect(port)) }
        try await eventually(timeout: hangGuard, "\(cap) silent connections served") { endpoint.openConnections == cap }
        let extra = try connect(port)
        var byte: UInt8 = 0
        // 0: the server closed it (end of file); -1 would be the hang guard's timeout.
        let read = recv(extra, &byte, 1, 0)
        close(extra)
        #expect(read == 0)
        #expect(endpoint.openConnections == cap)
        if let last = sockets.popLast() { close(last) }
        try await eventually(timeout: hangGuard, "the closed connection counted out") { endpoint.openConnections == cap - 1 }
        let scrape = try await PrometheusScrape.get("http://127.0.0.1:\(port)/metrics")
        #expect(scrape.status == 200)
        #expect(scrape.text == "ok\n")
        sockets.forEach { close($0) }
        sockets.removeAll()
        await endpoint.close()
    }
}
