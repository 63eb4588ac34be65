import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A TCP proxy in front of a test server (`ops/lib/fault_proxy.py`) on a port of its own,
/// which a test can freeze (bytes stop moving, connections stay open: the peers hear silence)
/// and thaw.
public final class FaultProxy: Sendable {
    /// The port the proxy listens on (127.0.0.1).
    public let port: UInt16
    private let process: ManagedProcess

    /// Starts a proxy to 127.0.0.1:`target` and returns once it accepts connections.
    public static func start(target: UInt16) async throws -> FaultProxy {
        let port = try freePort()
        let script = TestEnvironment.repoRoot.appendingPathComponent("ops/lib/fault_proxy.py").path
        let process = try ManagedProcess(URL(fileURLWithPath: "/usr/bin/env"), ["python3", script, "\(port)", "\(target)"],
                                         name: "fault-proxy-\(port)")
        try await eventually(timeout: 60, "the fault proxy listening on \(port)") {
            if !process.isRunning { throw MissingService("the fault proxy exited: \(process.log.suffix(2000))") }
            return TestEnvironment.portOpen(port)
        }
        return FaultProxy(port: port, process: process)
    }

    private init(port: UInt16, process: ManagedProcess) {
        self.port = port
        self.process = process
    }

    /// Stops moving bytes (every connection stays open); returns once the proxy says it holds.
    public func freeze() async throws {
        process.signal(SIGUSR1)
        try await process.waitForLog("frozen", timeout: 60)
    }

    /// Moves bytes again, the held ones first.
    public func thaw() { process.signal(SIGCONT) }

    /// Resets every current connection (new ones are still accepted): a node dropping its clients.
    public func reset() { process.signal(SIGUSR2) }

    /// Ends the proxy.
    public func stop() async throws {
        process.signal(SIGTERM)
        try await process.waitForExit(timeout: 60)
    }

    /// A port nothing listens on right now (the kernel's pick for a socket bound to port 0).
    private static func freePort() throws -> UInt16 {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw MissingService("cannot make a socket to find a free port") }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = 0
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { pointer in
                bind(fd, pointer, length) == 0 && getsockname(fd, pointer, &length) == 0
            }
        }
        guard bound else { throw MissingService("cannot bind a socket to find a free port") }
        return UInt16(bigEndian: address.sin_port)
    }
}
