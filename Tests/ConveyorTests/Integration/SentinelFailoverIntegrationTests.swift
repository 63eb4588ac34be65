@testable import Conveyor
import Foundation
import Redis
import Testing
import TestSupport
#if canImport(Glibc)
import Glibc
#endif

/// A worker daemon and a client whose results live in Redis behind Sentinel, across a failover.
@Suite("Results through Sentinel: a worker and a client carry on across a failover")
struct SentinelFailoverIntegrationTests {
    @Test("results stored before, during and after the primary is killed are all read back, from the promoted replica")
    func resultsAcrossFailover() async throws {
        try TestEnvironment.requireServices()
        let set = try await SentinelSet.start(label: "e2e")
        let queue = TestEnvironment.uniqueQueue("sentinel")
        var configuration = ConveyorConfiguration(brokerURL: TestEnvironment.brokerURL, resultURL: set.url(), defaultQueue: queue)
        // Commands wait for the new primary instead of failing while Sentinel fails over.
        configuration.connectTimeout = hangGuard
        configuration.resultTTL = 3600
        var worker: ManagedProcess?
        var client: ConveyorClient?
        do {
            let binary = try TestEnvironment.requireBinary("conveyor-worker")
            let process = try ManagedProcess(binary, ["--queues", queue, "--concurrency", "4", "--hostname", "sentinel@\(queue)",
                                                      "--grace-period", "10"],
                                             environment: ["CONVEYOR_BROKER_URL": TestEnvironment.brokerURL, "CONVEYOR_RESULT_URL": set.url()],
                                             name: "sentinel-worker")
            worker = process
            try await process.waitForLog("worker ready", timeout: hangGuard)
            let made = try ConveyorClient(configuration: configuration, name: "sentinel-e2e")
            client = made
            try await made.connect(timeout: hangGuard)

            let before = try await send(made, 0..<20)
            for (index, handle) in before.enumerated() { #expect(try await handle.get(timeout: hangGuard) == .int(Int64(index * 2))) }
            // Everything the worker stored so far is on the replica: replication keeps order, so a
            // write of ours that the replica acknowledged comes after all of them.
            try await withPrimary(set.primaryPort) { primary in
                _ = try await primary.send("SET", "conveyor-test:sentinel-mark", "1")
                let acknowledged = try await primary.send("WAIT", 1, Int(hangGuard * 1000)).integer
                #expect(acknowledged == 1)
            }

            let killed = try await set.killPrimary()
            // Sent while there is no primary: the worker runs them and stores their results once
            // Sentinel has promoted the replica.
            let during = try await send(made, 20..<60)
            let promoted = try await set.waitForFailover(from: killed)
            #expect(promoted == set.replicaPort)
            for (offset, handle) in during.enumerated() { #expect(try await handle.get(timeout: hangGuard) == .int(Int64((20 + offset) * 2))) }
            let after = try await send(made, 60..<80)
            for (offset, handle) in after.enumerated() { #expect(try await handle.get(timeout: hangGuard) == .int(Int64((60 + offset) * 2))) }
            // The results from before the failover are read from the promoted replica.
            for handle in before { #expect(try await made.result(for: handle.id).state == .success) }
            try await process.waitForLog("primary=127.0.0.1:\(promoted)", timeout: hangGuard)
        } catch {
            await cleanUp(worker, client, set)
            throw error
        }
        await cleanUp(worker, client, set)
    }

    @Test("with replica_acks=1 a result is stored once the replica has it, and a store no replica confirms fails as notReplicated")
    func replicaAcknowledgement() async throws {
        try TestEnvironment.requireServices()
        let set = try await SentinelSet.start(label: "acks")
        var configuration = ConveyorConfiguration(brokerURL: TestEnvironment.brokerURL,
                                                  resultURL: set.url() + "&replica_acks=1&socket_timeout=2",
                                                  defaultQueue: TestEnvironment.uniqueQueue("acks"))
        configuration.connectTimeout = hangGuard
        configuration.resultTTL = 3600
        let client = try ConveyorClient(configuration: configuration, name: "sentinel-acks")
        do {
            let stored = ResultMeta(taskId: UUID().uuidString.lowercased(), status: .success, result: .string("replicated"))
            #expect(try await client.results.store(stored))
            try await client.results.storeSuccess([ResultMeta(taskId: UUID().uuidString.lowercased(), status: .success)])
            // WAIT returned 1: the replica has it, no polling needed.
            try await withPrimary(set.replicaPort) { replica in
                let value = try await replica.send("GET", ResultMeta.key(for: stored.taskId)).bytes
                #expect(value.flatMap(ResultMeta.init(bytes:))?.status == .success)
            }
            try await set.kill(port: set.replicaPort)
            let single = ResultMeta(taskId: UUID().uuidString.lowercased(), status: .success)
            let error = await #expect(throws: RedisError.self) { try await client.results.store(single) }
            #expect(error?.code == .notReplicated)
            let batch = await #expect(throws: RedisError.self) { try await client.results.storeSuccess([single]) }
            #expect(batch?.code == .notReplicated)
        } catch {
            await client.close()
            await set.stop()
            throw error
        }
        await client.close()
        await set.stop()
    }

    /// Sends `conveyor.add(i, i)` for each `i`.
    private func send(_ client: ConveyorClient, _ range: Range<Int>) async throws -> [TaskHandle] {
        var handles: [TaskHandle] = []
        for index in range { handles.append(try await client.send(taskNamed: "conveyor.add", args: [.int(Int64(index)), .int(Int64(index))])) }
        return handles
    }

    private func withPrimary(_ port: Int, _ body: (RedisConnection) async throws -> Void) async throws {
        let connection = try RedisConnection(configuration: .init(endpoint: try RedisEndpoint(url: "redis://127.0.0.1:\(port)/0"),
                                                                  name: "sentinel-e2e-mark", queueTimeout: hangGuard),
                                             logger: .init(label: "sentinel-e2e"))
        do {
            try await body(connection)
            await connection.close()
        } catch {
            await connection.close()
            throw error
        }
    }

    private func cleanUp(_ worker: ManagedProcess?, _ client: ConveyorClient?, _ set: SentinelSet) async {
        if let worker {
            worker.signal(SIGTERM)
            _ = try? await worker.waitForExit(timeout: hangGuard)
        }
        await client?.close()
        await set.stop()
    }
}
