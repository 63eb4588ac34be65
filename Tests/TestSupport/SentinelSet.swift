import Foundation
import IOSupport
#if canImport(Glibc)
import Glibc
#endif

/// A private Redis primary, its replica and three Sentinels on free loopback ports, started by
/// `ops/lib/sentinel-set` in a folder of their own; `stop()` kills them and deletes the folder.
///
/// Ports come from the kernel (bind to port 0, read the port, close). Another process may take
/// one in between: the script then exits 3 and the whole set is tried again on fresh ports
/// (at most five times).
public final class SentinelSet: Sendable {
    public let masterName: String
    public let directory: URL
    public let primaryPort: Int
    public let replicaPort: Int
    public let sentinelPorts: [Int]

    /// `sentinel://…;sentinel://…/DB?master_name=NAME` for this set, sentinels in order.
    public func url(database: Int = 0, firstSentinels: [Int] = []) -> String {
        let ports = firstSentinels + sentinelPorts
        return ports.map { "sentinel://127.0.0.1:\($0)" }.joined(separator: ";") + "/\(database)?master_name=\(masterName)"
    }

    private init(masterName: String, directory: URL, ports: [Int]) {
        self.masterName = masterName
        self.directory = directory
        primaryPort = ports[0]
        replicaPort = ports[1]
        sentinelPorts = Array(ports[2...])
    }

    /// Starts a set and returns once the replica is in sync and every sentinel sees the others.
    public static func start(label: String) async throws -> SentinelSet {
        let name = "conveyor-\(label)"
        var lastFailure = ""
        for _ in 0..<5 {
            let directory = TestEnvironment.repoRoot.appendingPathComponent(".services/sentinel-tests/\(label)-\(UUID().uuidString.prefix(8))")
            let ports = try freePorts(5)
            let (status, output) = try await script(["start", directory.path, name] + ports.map(String.init))
            if status == 0 { return SentinelSet(masterName: name, directory: directory, ports: ports) }
            _ = try? await script(["stop", directory.path])
            lastFailure = output
            // 3: a port was taken meanwhile; anything else will not get better on other ports.
            guard status == 3 else { break }
        }
        throw MissingService("ops/lib/sentinel-set could not start a Sentinel set: \(lastFailure.suffix(1500))")
    }

    /// Kills every server of the set and deletes its folder.
    public func stop() async {
        _ = try? await Self.script(["stop", directory.path])
    }

    /// kill -9 of the server that is primary now. - Returns: its port.
    public func killPrimary() async throws -> Int {
        try await portFrom(["kill-primary", directory.path])
    }

    /// kill -9 of one server of the set (the replica, say).
    public func kill(port: Int) async throws {
        _ = try await run(["kill", directory.path, "\(port)"])
    }

    /// Asks a sentinel for a failover (the primary stays up and is demoted).
    public func failover() async throws {
        _ = try await run(["failover", directory.path])
    }

    /// Waits until the sentinels name a primary other than `old` that answers ROLE master.
    /// - Returns: its port.
    public func waitForFailover(from old: Int, timeout: Double = hangGuard) async throws -> Int {
        try await portFrom(["wait-failover", directory.path, "\(old)", "\(Int(timeout))"])
    }

    /// Starts a killed server again and waits until Sentinel made it a replica in sync.
    public func restart(port: Int) async throws {
        _ = try await run(["restart", directory.path, "\(port)"])
    }

    private func portFrom(_ arguments: [String]) async throws -> Int {
        let output = try await run(arguments)
        guard let line = output.split(separator: "\n").last, let port = Int(line.trimmingCharacters(in: .whitespaces)) else {
            throw MissingService("ops/lib/sentinel-set \(arguments.joined(separator: " ")) printed no port: \(output.suffix(800))")
        }
        return port
    }

    private func run(_ arguments: [String]) async throws -> String {
        let (status, output) = try await Self.script(arguments)
        guard status == 0 else {
            throw MissingService("ops/lib/sentinel-set \(arguments.joined(separator: " ")) exited \(status): \(output.suffix(1500))")
        }
        return output
    }

    /// Runs the script; returns its exit status and what it printed (stdout, then stderr).
    private static func script(_ arguments: [String]) async throws -> (Int32, String) {
        let base = FileManager.default.temporaryDirectory.appendingPathComponent("conveyor-sentinel-\(UUID().uuidString.prefix(8))")
        let out = base.path + ".out", err = base.path + ".err"
        defer {
            try? FileManager.default.removeItem(atPath: out)
            try? FileManager.default.removeItem(atPath: err)
        }
        let child = try Subprocess.spawn(TestEnvironment.repoRoot.appendingPathComponent("ops/lib/sentinel-set").path, arguments,
                                         standardOutput: .file(out), standardError: .file(err))
        let status = await child.wait()
        let text = ((try? String(contentsOfFile: out, encoding: .utf8)) ?? "") + ((try? String(contentsOfFile: err, encoding: .utf8)) ?? "")
        return (status, text)
    }

    /// `count` distinct ports the kernel just called free on 127.0.0.1 (all bound at once, so
    /// they differ, then released).
    public static func freePorts(_ count: Int) throws -> [Int] {
        var descriptors: [Int32] = []
        defer { descriptors.forEach { close($0) } }
        var ports: [Int] = []
        for _ in 0..<count {
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            guard fd >= 0 else { throw MissingService("socket() failed: errno \(errno)") }
            descriptors.append(fd)
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_port = 0
            address.sin_addr.s_addr = inet_addr("127.0.0.1")
            let bound = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
            guard bound == 0 else { throw MissingService("bind to 127.0.0.1:0 failed: errno \(errno)") }
            var length = socklen_t(MemoryLayout<sockaddr_in>.size)
            let named = withUnsafeMutablePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
            }
            guard named == 0 else { throw MissingService("getsockname failed: errno \(errno)") }
            ports.append(Int(UInt16(bigEndian: address.sin_port)))
        }
        return ports
    }
}
