@testable import Conveyor
import Foundation
import Testing
import TestSupport

@Suite("conveyor check and conveyor munin: Nagios and Munin plugins")
struct CheckCommandTests {
    /// Runs a plugin; one not given `--timeout` gets the longest (60 s), so a loaded machine's slow
    /// answer is not an UNKNOWN (the default 9 s is Nagios' budget, not the test's).
    private func run(_ arguments: [String]) async throws -> (Int32, String) {
        let bounded = arguments.contains("--timeout") ? arguments : arguments + ["--timeout", "60"]
        let process = try ManagedProcess(try TestEnvironment.requireBinary("conveyor"), bounded)
        let status = try await process.waitForExit(timeout: hangGuard)
        return (status, process.log)
    }

    /// A private queue holding `count` messages no worker consumes, once the broker counts them all.
    private func queueHolding(_ count: Int, label: String) async throws -> (String, ConveyorClient) {
        let queue = TestEnvironment.uniqueQueue(label)
        let client = try testClient(queue: queue)
        try await client.connect()
        for index in 0..<count { _ = try await client.send(taskNamed: "conveyor.add", args: [.int(Int64(index)), 1]) }
        try await eventually(timeout: hangGuard, "\(count) messages counted in \(queue)") {
            try await Fleet(client: client).queue(queue)?.ready == count
        }
        return (queue, client)
    }

    @Test("check queue: OK, WARNING and CRITICAL on the depth thresholds, with the depth in perfdata")
    func depthThresholds() async throws {
        let (queue, client) = try await queueHolding(3, label: "check-depth")
        let cases: [(warn: Int, crit: Int, status: Int32, label: String)] = [(5, 10, 0, "OK"), (2, 10, 1, "WARNING"), (1, 2, 2, "CRITICAL")]
        for (warn, crit, expected, label) in cases {
            let (status, output) = try await run(["check", "queue", queue, "--warn-depth", "\(warn)", "--crit-depth", "\(crit)", "--min-consumers", "0"])
            #expect(status == expected, "\(output)")
            let lines = output.split(separator: "\n")
            #expect(lines.count == 1, "\(output)")
            #expect(output.hasPrefix("CONVEYOR QUEUE \(label) - \(queue): depth=3 consumers=0"), "\(output)")
            #expect(output.hasSuffix(" | 'depth'=3;\(warn);\(crit);0; 'consumers'=0;;0:;0; 'dead'=0;;;0;\n"), "\(output)")
        }
        await client.close()
    }

    @Test("check queue: CRITICAL with consumers=0 when no worker consumes; UNKNOWN when asked for the age")
    func noConsumers() async throws {
        let (queue, client) = try await queueHolding(1, label: "check-consumers")
        let (status, output) = try await run(["check", "queue", queue])
        #expect(status == 2, "\(output)")
        #expect(output.hasPrefix("CONVEYOR QUEUE CRITICAL - "), "\(output)")
        #expect(output.contains("consumers=0 < 1"), "\(output)")
        let (deadStatus, deadOutput) = try await run(["check", "queue", queue, "--min-consumers", "0", "--max-dead", "0"])
        #expect(deadStatus == 0, "\(deadOutput)")
        #expect(deadOutput.contains("'dead'=0;0;;0;"), "\(deadOutput)")
        let (ageStatus, ageOutput) = try await run(["check", "queue", queue, "--min-consumers", "0", "--max-age", "60"])
        #expect(ageStatus == 3, "\(ageOutput)")
        #expect(ageOutput.contains("oldest-message age is not measured"), "\(ageOutput)")
        let (missingStatus, missing) = try await run(["check", "queue", queue + ".missing"])
        #expect(missingStatus == 2, "\(missing)")
        #expect(missing.contains("does not exist"), "\(missing)")
        await client.close()
    }

    @Test("check workers --min 1: OK with a running worker on the queue, CRITICAL without one")
    func workers() async throws {
        let queue = TestEnvironment.uniqueQueue("check-workers")
        let worker = try await TestWorker(queue: queue, heartbeatInterval: 1)
        let client = try testClient(queue: queue)
        try await client.connect()
        try await eventually(timeout: hangGuard, "the worker's heartbeat") {
            try await Fleet(client: client).workers().contains { $0.hostname == "test@\(queue)" }
        }
        let (status, output) = try await run(["check", "workers", "--min", "1", "--queue", queue])
        #expect(status == 0, "\(output)")
        #expect(output.hasPrefix("CONVEYOR WORKERS OK - 1 worker(s) alive on \(queue) (min 1): test@\(queue)"), "\(output)")
        #expect(output.hasSuffix("| 'workers'=1;;1:;0;\n"), "\(output)")
        try await worker.stop()
        let (queueStatus, queueOutput) = try await run(["check", "queue", queue, "--min-consumers", "0"])
        #expect(queueStatus == 0, "\(queueOutput)")
        let (noneStatus, none) = try await run(["check", "workers", "--min", "1", "--queue", queue + ".idle"])
        #expect(noneStatus == 2, "\(none)")
        #expect(none.hasPrefix("CONVEYOR WORKERS CRITICAL - 0 worker(s) alive"), "\(none)")
        await client.close()
    }

    @Test("check broker and check redis: OK on the test servers, CRITICAL on a port nothing listens on")
    func servers() async throws {
        for (check, service) in [("broker", "BROKER"), ("redis", "REDIS")] {
            let (status, output) = try await run(["check", check])
            #expect(status == 0, "\(output)")
            #expect(output.hasPrefix("CONVEYOR \(service) OK - "), "\(output)")
            #expect(output.contains("'time'="), "\(output)")
        }
        let (brokerStatus, broker) = try await run(["check", "broker", "--broker", "amqp://guest:guest@127.0.0.1:1", "--timeout", "5"])
        #expect(brokerStatus == 2, "\(broker)")
        #expect(broker.hasPrefix("CONVEYOR BROKER CRITICAL - broker unavailable"), "\(broker)")
        let (redisStatus, redis) = try await run(["check", "redis", "--result-backend", "redis://127.0.0.1:1", "--timeout", "5"])
        #expect(redisStatus == 2, "\(redis)")
        #expect(redis.hasPrefix("CONVEYOR REDIS CRITICAL - result store unavailable"), "\(redis)")
        #expect(redis.split(separator: "\n").count == 1, "\(redis)")
    }

    @Test("check broker and check redis answer (CRITICAL or UNKNOWN) when a server accepts connections and then says nothing")
    func silentServers() async throws {
        for (check, service, target, option, scheme) in [("broker", "BROKER", UInt16(5672), "--broker", "amqp://guest:guest@"),
                                                         ("redis", "REDIS", UInt16(6379), "--result-backend", "redis://")] {
            let proxy = try await FaultProxy.start(target: target)
            try await proxy.freeze()
            let (status, output) = try await run(["check", check, option, "\(scheme)127.0.0.1:\(proxy.port)", "--timeout", "1"])
            #expect(status == 2 || status == 3, "\(output)")
            let label = status == 2 ? "CRITICAL" : "UNKNOWN"
            #expect(output.hasPrefix("CONVEYOR \(service) \(label) - "), "\(output)")
            #expect(output.split(separator: "\n").count == 1, "\(output)")
            proxy.thaw()
            try await proxy.stop()
        }
    }

    @Test("munin queue: autoconf says yes or no, config names the graph and fields, fetch gives field values")
    func munin() async throws {
        let (queue, client) = try await queueHolding(2, label: "munin")
        let (autoStatus, auto) = try await run(["munin", "queue", "autoconf"])
        #expect(autoStatus == 0 && auto == "yes\n", "\(auto)")
        let (downStatus, down) = try await run(["munin", "queue", "autoconf", "--broker", "amqp://guest:guest@127.0.0.1:1"])
        #expect(downStatus == 0 && down.hasPrefix("no ("), "\(down)")
        let (configStatus, config) = try await run(["munin", "queue", "config", "--queue", queue])
        #expect(configStatus == 0, "\(config)")
        let lines = config.split(separator: "\n").map(String.init)
        let label = try #require(lines.first { $0.hasSuffix("_ready.label \(queue) waiting") }, "\(config)")
        let field = String(label.prefix { $0 != " " }.dropLast("_ready.label".count))
        // Dots and dashes are not allowed in a field name: they become `_`, and a hash keeps names apart.
        let cleaned = "q_" + String(queue.map { $0.isASCII && ($0.isLetter || $0.isNumber) ? $0 : "_" }) + "_"
        #expect(field.hasPrefix(cleaned) && field.dropFirst(cleaned.count).allSatisfy { $0.isHexDigit }, "\(field)")
        #expect(lines.first == "graph_title Conveyor queues")
        #expect(lines.contains("graph_category conveyor"))
        #expect(lines.contains("\(field)_ready.min 0"), "\(config)")
        #expect(lines.contains("\(field)_dead.label \(queue) dead letters"), "\(config)")
        let (fetchStatus, fetch) = try await run(["munin", "queue", "--queue", queue])
        #expect(fetchStatus == 0, "\(fetch)")
        #expect(fetch.split(separator: "\n").map(String.init) == ["\(field)_ready.value 2", "\(field)_dead.value 0"], "\(fetch)")
        await client.close()
    }

    @Test("bad usage exits 3 (UNKNOWN), as plugins do",
          arguments: [["check", "queue", "q", "--warn-depth", "10", "--crit-depth", "5"], ["check", "workers", "--min", "x"],
                      ["check", "queue", "q", "--max-age", "0"], ["check", "broker", "--timeout", "600"], ["check", "nosuch"],
                      ["munin", "queue", "fetchall"]])
    func badUsage(arguments: [String]) async throws {
        let (status, output) = try await run(arguments)
        #expect(status == 3, "\(output)")
    }
}
