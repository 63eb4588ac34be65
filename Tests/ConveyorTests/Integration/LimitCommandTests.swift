import Conveyor
import Foundation
import Testing
import TestSupport

/// `conveyor limit`: bad input exits 2 naming the problem before Redis is asked; good input
/// round-trips through Redis, in text and JSON.
@Suite("conveyor limit: set, list, clear")
struct LimitCommandTests {
    private func run(_ arguments: [String], environment: [String: String] = [:]) async throws -> (Int32, String) {
        let process = try ManagedProcess(try TestEnvironment.requireBinary("conveyor"), arguments, environment: environment)
        let status = try await process.waitForExit(timeout: 60)
        return (status, process.log)
    }

    @Test("bad rates, bursts, names and options exit 2 naming the problem, without Redis", arguments: [
        (["limit", "set", "t", "10/x"], "10/x"),
        (["limit", "set", "t", "0/s"], "0/s"),
        (["limit", "set", "t", "--", "-1/m"], "-1/m"),
        (["limit", "set", "t", "99999999999999999999/s"], "too large"),
        (["limit", "set", "t", "20000/s"], "10000/s"),
        (["limit", "set", "t", "10/s", "--burst", "0"], "burst"),
        (["limit", "set", "t", "10/s", "--burst=-3"], "burst"),
        (["limit", "set", "t", "10/s", "--burst", "99999999999999999999999"], "burst"),
        (["limit", "set", "", "10/s"], "task name"),
        (["limit", "set", String(repeating: "t", count: 201), "10/s"], "task name"),
        (["limit", "set", "t", "10/s", "--per-arg", ""], "per-argument"),
        (["limit", "set", "t", "10/s", "--per-arg", "a b"], "per-argument"),
        (["limit", "set", "t", "10/s", "--scope", "galaxy"], "--scope"),
        (["limit", "set", "t"], "rate"),
        (["limit", "clear", ""], "task name"),
        (["limit", "bogus"], "bogus"),
    ])
    func badUsage(arguments: [String], named: String) async throws {
        let (status, output) = try await run(arguments, environment: ["CONVEYOR_RESULT_URL": "redis://127.0.0.1:1/0"])
        #expect(status == 2, "\(arguments): \(output)")
        #expect(output.contains(named), "\(arguments): \(output)")
        #expect(output.split(separator: "\n").count == 1, "\(arguments): \(output)")
    }

    @Test("conveyor-worker --rate-limit: bad limits exit 2 before connecting to anything", arguments: [
        ("conveyor.add=10/x", "10/x"), ("conveyor.add", "TASK=RATE"), ("no.such.task=1/s", "no task named"),
        ("conveyor.add=1/s,burst=0", "burst"), ("conveyor.add=1/s,burst=99999999999999999999", "burst"),
        ("conveyor.add=1/s,bogus=1", "bogus"), ("conveyor.add=1/s,scope=galaxy", "scope"), ("=1/s", "task name"),
        ("conveyor.add=1/s,per-arg=", "per-argument"),
    ])
    func workerRateLimitUsage(assignment: String, named: String) async throws {
        let process = try ManagedProcess(try TestEnvironment.requireBinary("conveyor-worker"), ["--rate-limit", assignment],
                                         environment: ["CONVEYOR_BROKER_URL": "amqp://guest:guest@127.0.0.1:1/%2F"])
        let status = try await process.waitForExit(timeout: 60)
        #expect(status == 2, "\(assignment): \(process.log)")
        #expect(process.log.hasPrefix("conveyor-worker: --rate-limit: "), "\(assignment): \(process.log)")
        #expect(process.log.contains(named), "\(assignment): \(process.log)")
    }

    @Test("set, list and clear round-trip through Redis, in text and JSON")
    func roundTrip() async throws {
        try TestEnvironment.requireServices()
        let task = "test.cli-limit.\(UUID().uuidString)"
        let (setStatus, setOutput) = try await run(["limit", "set", task, "100/m", "--burst", "10", "--per-arg", "1:domain", "--json"])
        #expect(setStatus == 0, "\(setOutput)")
        let set = try JSON.parse(setOutput)
        #expect(set["rate"] == "100/m" && set["burst"] == 10 && set["per_arg"] == "1:domain" && set["scope"] == "fleet")

        let (listStatus, listOutput) = try await run(["limit", "list", "--json"])
        #expect(listStatus == 0, "\(listOutput)")
        let listed = try JSON.parse(listOutput)["limits"]?.array?.first { $0["task"]?.string == task }
        #expect(listed?["rate"] == "100/m", "\(listOutput)")
        #expect(try JSON.parse(listOutput)["deferred_by_rate_limit"]?.int != nil)

        let (textStatus, textOutput) = try await run(["limit", "list"])
        #expect(textStatus == 0)
        #expect(textOutput.contains("\(task)  100/m burst 10 per 1:domain (fleet)"), "\(textOutput)")

        let (clearStatus, clearOutput) = try await run(["limit", "clear", task, "--json"])
        #expect(clearStatus == 0)
        #expect(try JSON.parse(clearOutput)["cleared"] == true)
        let (againStatus, againOutput) = try await run(["limit", "clear", task])
        #expect(againStatus == 0)
        #expect(againOutput.contains("had no run-time rate limit"), "\(againOutput)")
    }

    @Test("Redis down: set fails with exit 1 and says so")
    func redisDown() async throws {
        let (status, output) = try await run(["limit", "set", "t", "1/s", "--connect-timeout", "1"],
                                             environment: ["CONVEYOR_RESULT_URL": "redis://127.0.0.1:1/0"])
        #expect(status == 1, "\(output)")
        #expect(output.contains("unavailable"), "\(output)")
    }
}
