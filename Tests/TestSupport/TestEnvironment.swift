import Conveyor
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Where the test servers, binaries and Python are, and how to fail clearly when one is missing.
public enum TestEnvironment {
    /// The repository root (tests run from any directory).
    public static let repoRoot: URL = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    /// Built executables: `CONVEYOR_BIN_DIR`, or the debug build folder.
    public static var binDirectory: URL {
        if let dir = ProcessInfo.processInfo.environment["CONVEYOR_BIN_DIR"] { return URL(fileURLWithPath: dir) }
        return repoRoot.appendingPathComponent(".build/debug")
    }

    /// The Python with Celery 5.7: `CONVEYOR_PYTHON`, or the repository's `.venv`.
    public static var python: String {
        ProcessInfo.processInfo.environment["CONVEYOR_PYTHON"] ?? repoRoot.appendingPathComponent(".venv/bin/python").path
    }

    public static var brokerURL: String {
        ProcessInfo.processInfo.environment["CONVEYOR_BROKER_URL"] ?? ConveyorConfiguration.defaultBrokerURL
    }

    public static var resultURL: String {
        ProcessInfo.processInfo.environment["CONVEYOR_RESULT_URL"] ?? ConveyorConfiguration.defaultResultURL
    }

    /// A configuration on the test servers with `queue` as the default queue.
    public static func configuration(queue: String) -> ConveyorConfiguration {
        var configuration = ConveyorConfiguration(brokerURL: brokerURL, resultURL: resultURL, defaultQueue: queue)
        configuration.connectTimeout = 10
        configuration.resultTTL = 3600
        return configuration
    }

    /// The test run (`CONVEYOR_TEST_RUN`, set by ops/test, which deletes the run's queues when it ends).
    /// Loops of the in-process test workers that do not ask for a number (`CONVEYOR_TEST_LOOPS`,
    /// default 1), so the whole suite can run against workers with several loops.
    public static let workerLoops: Int = ProcessInfo.processInfo.environment["CONVEYOR_TEST_LOOPS"].flatMap(Int.init)
        .map { min(max($0, 1), 64) } ?? 1

    public static let run: String = ProcessInfo.processInfo.environment["CONVEYOR_TEST_RUN"] ?? "adhoc"

    /// A queue name no other test uses: `conveyor-test.<run>.<label>.<id>`.
    public static func uniqueQueue(_ label: String = "test") -> String {
        "conveyor-test.\(run).\(label).\(UUID().uuidString.prefix(8).lowercased())"
    }

    /// Throws (failing the test, never skipping it) when RabbitMQ or Redis does not answer,
    /// naming the command that starts them.
    public static func requireServices() throws {
        if !portOpen(5672) { throw MissingService("RabbitMQ is not answering on 127.0.0.1:5672 — start it with: ops/services up") }
        if !portOpen(6379) { throw MissingService("Redis is not answering on 127.0.0.1:6379 — start it with: ops/services up") }
    }

    /// Throws when the Celery venv is missing, naming the command that makes it.
    public static func requirePython() throws {
        try requireServices()
        guard FileManager.default.isExecutableFile(atPath: python) else {
            throw MissingService("no Python with Celery at \(python) — create it with: ops/venv")
        }
    }

    /// Throws when a built executable is missing, naming the command that builds it.
    public static func requireBinary(_ name: String) throws -> URL {
        let url = binDirectory.appendingPathComponent(name)
        guard FileManager.default.isExecutableFile(atPath: url.path) else {
            throw MissingService("\(url.path) is not built — run: swift build (ops/test does)")
        }
        return url
    }

    /// Whether something accepts TCP connections on 127.0.0.1:`port`.
    public static func portOpen(_ port: UInt16) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 }
        }
    }
}

/// A server or tool the tests need is not there.
public struct MissingService: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// How long a test waits for something that should happen: a hang guard, which only a hang
/// reaches. A test's pass never depends on the machine's speed; on a loaded two-core CI machine
/// a worker's start has taken over 20 s and a broker call over 10 s.
public let hangGuard: Double = 120

/// Polls `condition` until it holds or `timeout` seconds pass (for conditions in other
/// processes; never a fixed sleep to "let things settle").
public func eventually(timeout: Double, every interval: Double = 0.05, _ what: String,
                       _ condition: () async throws -> Bool) async throws {
    let deadline = Date().addingTimeInterval(timeout)
    while Date() < deadline {
        if try await condition() { return }
        try await Task.sleep(for: .milliseconds(Int(interval * 1000)))
    }
    throw TimedOut("\(what) did not happen within \(timeout) s")
}

/// `eventually` gave up.
public struct TimedOut: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
