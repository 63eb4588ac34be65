import AMQP
import Conveyor
import Foundation
import Testing
import TestSupport
#if canImport(Glibc)
import Glibc
#endif

@Suite("The worker under supervisord, as ops/deploy ships it")
struct SupervisordDeployTests {
    @Test("supervisorctl restart and a kill -HUP deploy in the middle of a load lose no task")
    func deploysMidLoadLoseNothing() async throws {
        try TestEnvironment.requireServices()
        let binary = try TestEnvironment.requireBinary("conveyor-worker")
        let queue = TestEnvironment.uniqueQueue("supervisord")
        let pidfile = FileManager.default.temporaryDirectory.appendingPathComponent("conveyor-\(UUID().uuidString.prefix(8)).pid").path
        let supervisor = try await PrivateSupervisor.start(
            command: [binary.path, "--queues", queue, "--concurrency", "4", "--hostname", "deploy@\(queue)",
                      "--grace-period", "10", "--pidfile", pidfile],
            environment: ["CONVEYOR_BROKER_URL": TestEnvironment.brokerURL, "CONVEYOR_RESULT_URL": TestEnvironment.resultURL])
        do {
            try await deployDuringLoad(supervisor, queue: queue, pidfile: pidfile)
        } catch {
            await supervisor.shutdown()
            throw error
        }
        await supervisor.shutdown()
        #expect(!FileManager.default.fileExists(atPath: pidfile), "the worker removes its pid file when supervisord stops it")
    }

    /// Sends the load, restarts through supervisorctl after the first results, re-execs with HUP
    /// after more, and checks every task's result.
    func deployDuringLoad(_ supervisor: PrivateSupervisor, queue: String, pidfile: String) async throws {
        try await waitForReady(supervisor, times: 1)
        let first = try await workerPid(pidfile) { _ in true }
        let client = try testClient(queue: queue)
        // Three phases of 100 conveyor.sleep tasks (each returns its seconds, so every value is
        // known). Each deploy is started right after the next phase's publish is confirmed, so
        // it lands on a queue with work in it and tasks running (100 × 0.1-0.3 s on 4 slots);
        // whether any of those finish before the signal arrives is up to the machine's load,
        // which the test does not time.
        var seconds: [Double] = [], ids: [String] = []
        func sendPhase() async throws {
            let phase = (0..<100).map { Double($0 % 21 + 10) / 100 }
            let sent = await client.send(batch: phase.map { ConveyorClient.Request(name: "conveyor.sleep", args: [.double($0)]) })
            ids += try sent.map { try $0.get().id }
            seconds += phase
        }
        try await sendPhase()
        _ = try await waitForSuccesses(client, ids, atLeast: 30)

        // Deploy 1: supervisorctl restart (TERM to the group, a warm stop, a new process).
        try await sendPhase()
        let restart = try await supervisor.control(["restart", PrivateSupervisor.program])
        #expect(restart.status == 0, "supervisorctl restart: \(restart.output)")
        #expect(restart.output.contains("stopped") && restart.output.contains("started"), "\(restart.output)")
        try await waitForReady(supervisor, times: 2)
        let second = try await workerPid(pidfile) { $0 != first }
        #expect(supervisor.log.contains("warm shutdown"))

        // Deploy 2: kill -HUP $(cat pidfile) (a warm stop, then the same pid re-execs).
        _ = try await waitForSuccesses(client, ids, atLeast: 130)
        try await sendPhase()
        #expect(kill(second, SIGHUP) == 0)
        try await waitForReady(supervisor, times: 3)
        #expect(supervisor.log.contains("restarting in place"))
        #expect(try await workerPid(pidfile) { _ in true } == second, "HUP re-execs in place: the pid file names the same process")

        // No task was lost or changed.
        for (id, value) in zip(ids, seconds) {
            let result = try await client.wait(for: id, timeout: hangGuard)
            #expect(result.state == .success, "task \(id): \(result.state)")
            #expect(result.value == .double(value), "task \(id)")
        }
        let status = try await supervisor.control(["status", PrivateSupervisor.program])
        #expect(status.status == 0 && status.output.contains("RUNNING") && status.output.contains("pid \(second)"), "\(status.output)")
        let depth = try await client.brokerConnection.inspect(queue: queue)
        #expect(depth.messageCount == 0)
        await client.close()
    }

    /// Waits until the worker has logged "worker ready" `times` times in all (once per start).
    func waitForReady(_ supervisor: PrivateSupervisor, times: Int) async throws {
        try await eventually(timeout: hangGuard, "worker ready \(times) time(s)") {
            supervisor.log.components(separatedBy: "worker ready").count - 1 >= times
        }
    }

    /// The pid in the worker's pid file once it names a live process that `accept`s.
    func workerPid(_ path: String, _ accept: (Int32) -> Bool) async throws -> Int32 {
        var found: Int32 = 0
        try await eventually(timeout: hangGuard, "pid file \(path) naming the worker") {
            guard let text = try? String(contentsOfFile: path, encoding: .utf8),
                  let pid = Int32(text.trimmingCharacters(in: .whitespacesAndNewlines)), PrivateSupervisor.isAlive(pid), accept(pid) else { return false }
            found = pid
            return true
        }
        return found
    }

    /// Waits until at least `count` of the tasks succeeded; returns how many had.
    func waitForSuccesses(_ client: ConveyorClient, _ ids: [String], atLeast count: Int) async throws -> Int {
        var done = 0
        try await eventually(timeout: hangGuard, every: 0.02, "\(count) results") {
            done = try await client.results(for: ids).filter { $0.state == .success }.count
            return done >= count
        }
        return done
    }
}
