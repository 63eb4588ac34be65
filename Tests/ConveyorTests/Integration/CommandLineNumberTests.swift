import Foundation
import Testing
import TestSupport

/// Every number a binary takes (flags, URL query values, environment) is refused out of range
/// with exit 2 and one line naming it, before anything converts it:
/// `conveyor status --broker '…?heartbeat=3000000000'` once died of SIGILL.
@Suite("Command lines: numbers out of range exit 2 with one line")
struct CommandLineNumberTests {
    /// Runs a binary to completion against servers it must never reach (port 1).
    private func run(_ binary: String, _ arguments: [String], environment: [String: String] = [:]) async throws -> (Int32, String) {
        let offline = ["CONVEYOR_BROKER_URL": "amqp://guest:guest@127.0.0.1:1/%2F", "CONVEYOR_RESULT_URL": "redis://127.0.0.1:1/0"]
        let process = try ManagedProcess(try TestEnvironment.requireBinary(binary), arguments,
                                         environment: offline.merging(environment) { $1 })
        let status = try await process.waitForExit(timeout: 60)
        return (status, process.log)
    }

    /// Exit 2, exactly one line, naming `named` and starting with the binary's name.
    private func expectRefusal(_ binary: String, _ arguments: [String], environment: [String: String] = [:], named: String) async throws {
        let (status, output) = try await run(binary, arguments, environment: environment)
        let lines = output.split(separator: "\n", omittingEmptySubsequences: true)
        #expect(status == 2, "\(binary) \(arguments) \(environment): \(output)")
        #expect(lines.count == 1, "\(binary) \(arguments) \(environment): \(output)")
        #expect(output.hasPrefix("\(binary): "), "\(binary) \(arguments): \(output)")
        #expect(output.contains(named), "\(binary) \(arguments) \(environment): \(output)")
        #expect(!output.contains("s3cret"), "\(output)")
    }

    @Test("conveyor: URL numbers and escapes", arguments: [
        (["status", "--broker", "amqp://guest:s3cret@127.0.0.1:5672/%2F?heartbeat=3000000000"], "heartbeat"),
        (["status", "--broker", "amqp://guest:s3cret@127.0.0.1:5672/%2F?heartbeat=-1"], "heartbeat"),
        (["status", "--broker", "amqp://guest:s3cret@127.0.0.1:5672/%2F?connection_timeout=1e300"], "connection_timeout"),
        (["status", "--broker", "amqp://guest:s3cret@127.0.0.1:99999999999999999999/%2F"], "port"),
        (["status", "--broker", "amqp://guest:s3cret%zz@127.0.0.1:5672/%2F"], "percent-encoding"),
        (["status", "--result-backend", "redis://:s3cret@127.0.0.1:6379/4294967296"], "database"),
        (["status", "--result-backend", "redis://:s3cret@127.0.0.1:6379/0?socket_timeout=inf"], "socket_timeout"),
        (["status", "--result-backend", "redis://:s3cret%zz@127.0.0.1:6379/0"], "percent-encoding"),
    ] as [([String], String)])
    func urls(_ arguments: [String], _ named: String) async throws {
        try await expectRefusal("conveyor", arguments, named: named)
    }

    @Test("conveyor: flags", arguments: [
        (["call", "conveyor.add", "--countdown", "1e300"], "--countdown"),
        (["call", "conveyor.add", "--countdown", "268435456"], "--countdown"),
        (["call", "conveyor.add", "--countdown=-1"], "--countdown"),
        (["status", "--connect-timeout", "1e300"], "--connect-timeout"),
        (["status", "--connect-timeout", "0"], "--connect-timeout"),
        (["dead", "list", "q", "--limit", "99999999999999999999"], "--limit"),
    ] as [([String], String)])
    func flags(_ arguments: [String], _ named: String) async throws {
        try await expectRefusal("conveyor", arguments, named: named)
    }

    @Test("conveyor and conveyor-worker: CONVEYOR_RESULT_EXPIRES that is not whole seconds up to a century",
          arguments: ["1e300", "9223372036854775807", "-5", "3155760001"])
    func resultExpires(_ value: String) async throws {
        try await expectRefusal("conveyor", ["status"], environment: ["CONVEYOR_RESULT_EXPIRES": value], named: "CONVEYOR_RESULT_EXPIRES")
        try await expectRefusal("conveyor-worker", [], environment: ["CONVEYOR_RESULT_EXPIRES": value], named: "CONVEYOR_RESULT_EXPIRES")
    }

    @Test("conveyor-worker: flags and URLs", arguments: [
        (["--concurrency", "65536"], "--concurrency"), (["--concurrency", "99999999999"], "--concurrency"),
        (["--prefetch", "0"], "--prefetch"), (["--prefetch", "70000"], "--prefetch"),
        (["--loops", "0"], "--loops"), (["--loops", "65"], "--loops"), (["--loops", "9", "--prefetch", "8"], "loops (9)"),
        (["--grace-period", "1e300"], "--grace-period"), (["--grace-period=-1"], "--grace-period"),
        (["--poison-after", "2000000"], "--poison-after"),
        (["--result-expires=-1"], "--result-expires"), (["--result-expires", "99999999999"], "--result-expires"),
        (["--max-message-size=-5"], "--max-message-size"),
        (["--broker", "amqp://guest:s3cret@127.0.0.1:5672/%2F?heartbeat=3000000000"], "heartbeat"),
        (["--result-backend", "redis://:s3cret%zz@127.0.0.1:6379/0"], "percent-encoding"),
    ] as [([String], String)])
    func worker(_ arguments: [String], _ named: String) async throws {
        try await expectRefusal("conveyor-worker", arguments, named: named)
    }

    @Test("conveyor-demo and conveyor-bench: their numeric flags", arguments: [
        ("conveyor-demo", ["--batch", "0"], "--batch"), ("conveyor-demo", ["--count=-1"], "--count"),
        ("conveyor-demo", ["--timeout", "nan"], "--timeout"),
        ("conveyor-bench", ["--bin-dir", "b", "--ceiling", "c", "--python", "p", "--library", "l", "--log-dir", "/nonexistent/x",
                            "--batch-size", "0"], "--batch-size"),
        ("conveyor-bench", ["--bin-dir", "b", "--ceiling", "c", "--python", "p", "--library", "l", "--log-dir", "/nonexistent/x",
                            "--repetitions", "0"], "--repetitions"),
    ] as [(String, [String], String)])
    func opsTools(_ binary: String, _ arguments: [String], _ named: String) async throws {
        try await expectRefusal(binary, arguments, named: named)
    }
}
