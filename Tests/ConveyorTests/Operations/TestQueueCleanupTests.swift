import Conveyor
import Foundation
import Testing
import TestSupport

/// `ops/lib/drop_test_queues.py`, which `ops/test` runs when it ends (`--run`) and starts
/// (`--stale`): left alone, a developer's broker collects thousands of test queues and
/// exchanges until broker calls time out.
@Suite("ops/lib/drop_test_queues.py: what a test run leaves on the broker")
struct TestQueueCleanupTests {
    @Test("--run drops the run's classic and quorum queues; a queue with a consumer stays, and so do the exchanges of a run that still has a queue")
    func dropsARunsQueuesAndExchanges() async throws {
        try TestEnvironment.requireServices()
        // A run of its own (no dot: the run id is the name's second part), never this run's.
        let run = "\(TestEnvironment.run)-cleanup-\(UUID().uuidString.prefix(8).lowercased())"
        let script = TestEnvironment.repoRoot.appendingPathComponent("ops/lib/drop_test_queues.py").path
        let output = try await PythonScript.run("queue_cleanup.py", [run, script],
                                                environment: ["CONVEYOR_BROKER_URL": TestEnvironment.brokerURL,
                                                              "CONVEYOR_RESULT_URL": TestEnvironment.resultURL],
                                                timeout: hangGuard)
        let line = try #require(output.split(separator: "\n").last { $0.hasPrefix("RESULT ") }, "\(output)")
        let states = try JSON.parse(String(line.dropFirst("RESULT ".count)))
        #expect(states["before"] == ["idle": true, "quorum": true, "busy": true, "exchange": true], "\(output)")
        // The consumer keeps its queue (if-unused), and the run's exchange stays with it.
        #expect(states["first"] == ["idle": false, "quorum": false, "busy": true, "exchange": true], "\(output)")
        #expect(states["second"] == ["idle": false, "quorum": false, "busy": false, "exchange": false], "\(output)")
    }
}
