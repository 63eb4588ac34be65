import Foundation
import Testing
import TestSupport

/// The binaries' contract with scripts: bad usage exits 2 with a one-line reason, nothing
/// crashes on odd numbers, and a password never shows, even in a malformed URL.
@Suite("Command lines: exit codes and refusals")
struct CommandLineTests {
    /// Runs a binary to completion; returns its exit status and everything it printed.
    private func run(_ binary: String, _ arguments: [String], environment: [String: String] = [:]) async throws -> (Int32, String) {
        let process = try ManagedProcess(try TestEnvironment.requireBinary(binary), arguments, environment: environment)
        let status = try await process.waitForExit(timeout: 60)
        return (status, process.log)
    }

    @Test("conveyor: bad usage and unusable numbers exit 2, naming the problem", arguments: [
        (["bogus"], "bogus"),
        (["result"], "<id>"),
        (["call", "conveyor.add", "--wait", "--timeout", "inf"], "--timeout"),
        (["call", "conveyor.add", "--countdown", "nan"], "--countdown"),
        (["result", "some-id", "--wait", "--timeout=-1"], "--timeout"),
        (["status", "--connect-timeout", "nan"], "--connect-timeout"),
        (["dead", "list", "q", "--limit", "0"], "--limit"),
        (["result", ""], "empty"),
        (["revoke", "abc", ""], "empty"),
        (["call", " "], "empty"),
    ])
    func cliUsage(arguments: [String], named: String) async throws {
        let (status, output) = try await run("conveyor", arguments)
        #expect(status == 2, "\(arguments): \(output)")
        #expect(output.contains(named), "\(arguments): \(output)")
    }

    @Test("conveyor-worker: bad usage and destructive values exit 2 before connecting to anything", arguments: [
        ["--bogus"], ["--concurrency", "0"], ["--queues", ",,"], ["--grace-period", "nan"], ["--max-message-size=0"],
        ["--poison-after", "0"], ["--log-level", "loud"],
    ])
    func workerUsage(arguments: [String]) async throws {
        let (status, output) = try await run("conveyor-worker", arguments,
                                             environment: ["CONVEYOR_BROKER_URL": "amqp://guest:guest@127.0.0.1:1/%2F"])
        #expect(status == 2, "\(arguments): \(output)")
        #expect(output.hasPrefix("conveyor-worker: "), "\(arguments): \(output)")
    }

    @Test("commands that need only the broker work while Redis is down")
    func brokerOnlyWithoutRedis() async throws {
        try TestEnvironment.requireServices()
        let queue = TestEnvironment.uniqueQueue("noredis")
        let environment = ["CONVEYOR_BROKER_URL": TestEnvironment.brokerURL, "CONVEYOR_RESULT_URL": "redis://127.0.0.1:1/0"]
        let (sent, sendOutput) = try await run("conveyor", ["call", "conveyor.add", "--args", "[1, 2]", "--queue", queue, "--create-queue"],
                                               environment: environment)
        #expect(sent == 0, "\(sendOutput)")
        let (listed, listOutput) = try await run("conveyor", ["queues", queue, "--json"], environment: environment)
        #expect(listed == 0, "\(listOutput)")
        #expect(listOutput.contains("\"ready\":1"), "\(listOutput)")
        let (purged, purgeOutput) = try await run("conveyor", ["purge", queue, "--yes"], environment: environment)
        #expect(purged == 0, "\(purgeOutput)")
        #expect(purgeOutput.contains("purged 1"), "\(purgeOutput)")
        // What needs Redis says so. The timeout covers the broker's connect too, which a loaded
        // machine can hold past a second: 10 s, so only Redis' refusal can end it.
        let (waited, waitOutput) = try await run("conveyor", ["call", "conveyor.add", "--queue", queue, "--wait", "--connect-timeout", "10"],
                                                 environment: environment)
        #expect(waited == 1, "\(waitOutput)")
        #expect(waitOutput.contains("result store unavailable"), "\(waitOutput)")
    }

    @Test("a malformed URL is refused without showing its password", arguments: [
        ["status", "--broker", "guest:s3cret@127.0.0.1:5672"],
        ["status", "--broker", "amqp://guest:s3,cret@127.0.0.1:notaport/"],
        ["status", "--result-backend", "redis//:s3cret@127.0.0.1:6379"],
    ])
    func urlsStayRedacted(arguments: [String]) async throws {
        let (status, output) = try await run("conveyor", arguments)
        #expect(status == 2, "\(arguments): \(output)")
        #expect(!output.contains("s3"), "\(arguments): \(output)")
        #expect(output.contains("***"), "\(arguments): \(output)")
    }
}
