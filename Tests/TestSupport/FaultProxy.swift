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

    /// Starts a proxy to 127.0.0.1:`target` on a port the kernel picks, and returns once it
    /// accepts connections.
    /// - Parameter interleavingAMQP: the broker's frames get a `connection.blocked` on channel 0
    ///   inside every message's content and a `connection.unblocked` after it
    ///   (`--interleave-amqp` of the script).
    public static func start(target: UInt16, interleavingAMQP: Bool = false) async throws -> FaultProxy {
        let script = TestEnvironment.repoRoot.appendingPathComponent("ops/lib/fault_proxy.py").path
        let process = try ManagedProcess(URL(fileURLWithPath: "/usr/bin/env"),
                                         ["python3", script, "0", "\(target)"] + (interleavingAMQP ? ["--interleave-amqp"] : []),
                                         name: "fault-proxy-\(target)")
        var port: UInt16?
        try await eventually(timeout: hangGuard, "the fault proxy listening") {
            if !process.isRunning { throw MissingService("the fault proxy exited: \(process.log.suffix(2000))") }
            port = process.log.split(separator: "\n").lazy.compactMap { line in
                line.hasPrefix("listening ") ? UInt16(line.dropFirst("listening ".count)) : nil
            }.first
            return port != nil
        }
        guard let port else { throw MissingService("the fault proxy named no port: \(process.log.suffix(2000))") }
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
}
