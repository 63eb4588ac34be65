import Conveyor
import Foundation
import Testing
import TestSupport
#if canImport(Glibc)
import Glibc
#endif

/// `conveyor-worker --metrics` and `conveyor exporter`: what Prometheus scrapes counts what
/// happened, and `promtool check metrics` finds nothing to say about it.
@Suite("Prometheus metrics: the worker's /metrics and /healthz, conveyor exporter")
struct MetricsEndpointTests {
    @Test("after N tasks the worker's counters and histogram counts equal N, /healthz answers 200, promtool is clean")
    func workerCountsTasks() async throws {
        let queue = TestEnvironment.uniqueQueue("metrics")
        let worker = try await startWorkerProcess(queue: queue, name: "metrics@\(queue)", extra: ["--metrics", "127.0.0.1:0"])
        try await worker.waitForLog("metrics listening", timeout: hangGuard)
        let port = try #require(listeningPort(in: worker.log, after: "address=127.0.0.1:"), "\(worker.log.suffix(2000))")
        let base = "http://127.0.0.1:\(port)"

        let client = try testClient(queue: queue)
        let total = 25
        let sent = await client.send(batch: (0..<total).map { ConveyorClient.Request(name: "conveyor.add", args: [.int(Int64($0)), 1]) })
        for handle in sent {
            let result = try await client.wait(for: try handle.get().id, timeout: hangGuard)
            #expect(result.state == .success)
        }
        // The counter moves once the results are stored, just after a client can see them.
        let labels = "task=\"conveyor.add\",queue=\"\(queue)\""
        var scrape = PrometheusScrape(status: 0, text: "")
        try await eventually(timeout: hangGuard, "conveyor_tasks_finished_total{outcome=success} reaching \(total)") {
            scrape = try await PrometheusScrape.get(base + "/metrics")
            return scrape.value("conveyor_tasks_finished_total{\(labels),outcome=\"success\"}") == Double(total)
        }
        #expect(scrape.status == 200)
        #expect(scrape.value("conveyor_tasks_received_total{\(labels)}") == Double(total))
        #expect(scrape.value("conveyor_task_duration_seconds_count{\(labels)}") == Double(total))
        #expect(scrape.value("conveyor_task_wait_seconds_count{\(labels)}") == Double(total))
        #expect(scrape.value("conveyor_tasks_finished_total{\(labels),outcome=\"failure\"}") == 0)
        #expect(scrape.value("conveyor_concurrency") == 4)
        #expect(scrape.value("conveyor_broker_connected") == 1)
        #expect(scrape.value("conveyor_broker_reconnects_total") == 0)
        #expect((scrape.value("process_resident_memory_bytes") ?? 0) > 0)
        #expect((scrape.value("process_open_fds") ?? 0) > 0)
        let (status, output) = try await scrape.promtoolCheck()
        #expect(status == 0, "promtool check metrics: \(output)\n\(scrape.text)")

        let health = try await PrometheusScrape.get(base + "/healthz")
        #expect(health.status == 200, "\(health.text)")
        let healthJSON = try JSON.parse(Array(health.text.utf8))
        #expect(healthJSON["status"]?.string == "ok" && healthJSON["consuming"]?.bool == true, "\(health.text)")
        #expect(try await PrometheusScrape.get(base + "/nowhere").status == 404)

        worker.signal(SIGTERM)
        #expect(try await worker.waitForExit(timeout: hangGuard) == 0, "\(worker.log.suffix(2000))")
        await client.close()
    }

    @Test("/healthz answers 503 with status stopping once a warm shutdown began, while a task still runs")
    func healthzStopping() async throws {
        let queue = TestEnvironment.uniqueQueue("metrics-stop")
        let worker = try await startWorkerProcess(queue: queue, name: "stop@\(queue)",
                                                  extra: ["--metrics", "127.0.0.1:0", "--grace-period", "120"])
        try await worker.waitForLog("metrics listening", timeout: hangGuard)
        let port = try #require(listeningPort(in: worker.log, after: "address=127.0.0.1:"), "\(worker.log.suffix(2000))")
        let base = "http://127.0.0.1:\(port)"
        let client = try testClient(queue: queue)
        _ = try await client.send(taskNamed: "conveyor.sleep", args: [60])
        try await eventually(timeout: hangGuard, "the sleep task running") {
            try await PrometheusScrape.get(base + "/metrics").value("conveyor_active_tasks") == 1
        }
        worker.signal(SIGTERM)
        var health = PrometheusScrape(status: 0, text: "")
        try await eventually(timeout: hangGuard, "/healthz answering 503") {
            health = try await PrometheusScrape.get(base + "/healthz")
            return health.status == 503
        }
        #expect(try JSON.parse(Array(health.text.utf8))["status"]?.string == "stopping", "\(health.text)")
        #expect(try await PrometheusScrape.get(base + "/metrics").value("conveyor_draining") == 1)
        // A second TERM: cold shutdown, the sleep is cancelled and requeued.
        worker.signal(SIGTERM)
        try await worker.waitForExit(timeout: hangGuard)
        await client.close()
    }

    @Test("task names the worker does not run share one label: a flood of junk names is one series")
    func unregisteredNamesFolded() async throws {
        let queue = TestEnvironment.uniqueQueue("metrics-junk")
        let worker = try await startWorkerProcess(queue: queue, name: "junk@\(queue)", extra: ["--metrics", "127.0.0.1:0"])
        try await worker.waitForLog("metrics listening", timeout: hangGuard)
        let port = try #require(listeningPort(in: worker.log, after: "address=127.0.0.1:"), "\(worker.log.suffix(2000))")
        let client = try testClient(queue: queue)
        let junk = 10
        for index in 0..<junk { _ = try await client.send(taskNamed: "junk.task.\(index)") }
        let labels = "task=\"unregistered\",queue=\"\(queue)\""
        var scrape = PrometheusScrape(status: 0, text: "")
        try await eventually(timeout: hangGuard, "\(junk) unregistered tasks rejected") {
            scrape = try await PrometheusScrape.get("http://127.0.0.1:\(port)/metrics")
            return scrape.value("conveyor_tasks_finished_total{\(labels),outcome=\"rejected\"}") == Double(junk)
        }
        #expect(scrape.value("conveyor_tasks_received_total{\(labels)}") == Double(junk))
        #expect(!scrape.text.contains("junk.task"))
        worker.signal(SIGTERM)
        try await worker.waitForExit(timeout: hangGuard)
        await client.close()
    }

    /// Starts `conveyor exporter` on any free port; returns it and its /metrics URL.
    private func startExporter(_ arguments: [String]) async throws -> (ManagedProcess, String) {
        try TestEnvironment.requireServices()
        let exporter = try ManagedProcess(try TestEnvironment.requireBinary("conveyor"),
                                          ["exporter", "--listen", "127.0.0.1:0"] + arguments, name: "exporter")
        try await exporter.waitForLog("/metrics", timeout: hangGuard)
        let port = try #require(listeningPort(in: exporter.log, after: "http://127.0.0.1:"), "\(exporter.log)")
        return (exporter, "http://127.0.0.1:\(port)/metrics")
    }

    @Test("conveyor exporter: a private queue holding 3 messages reports depth 3 and 0 consumers; promtool is clean")
    func exporterReportsQueue() async throws {
        let queue = TestEnvironment.uniqueQueue("exporter")
        let client = try testClient(queue: queue)
        try await client.connect()
        for index in 0..<3 { _ = try await client.send(taskNamed: "conveyor.add", args: [.int(Int64(index)), 1]) }
        try await eventually(timeout: hangGuard, "3 messages counted in \(queue)") { try await Fleet(client: client).queue(queue)?.ready == 3 }
        // The scrape's budget is the exporter's longest: on a loaded machine connecting and the
        // remote-control broadcast alone have taken over 5 s (the default), answering conveyor_up 0.
        let (exporter, url) = try await startExporter(["--queue", queue, "--timeout", "60"])
        let scrape = try await PrometheusScrape.get(url)
        #expect(scrape.status == 200)
        #expect(scrape.value("conveyor_up") == 1, "\(scrape.text)")
        #expect(scrape.value("conveyor_queue_messages{queue=\"\(queue)\"}") == 3, "\(scrape.text)")
        #expect(scrape.value("conveyor_queue_consumers{queue=\"\(queue)\"}") == 0, "\(scrape.text)")
        #expect(scrape.value("conveyor_queue_dead_letters{queue=\"\(queue)\"}") == 0, "\(scrape.text)")
        #expect(scrape.value("conveyor_workers{kind=\"swift\"}") != nil, "\(scrape.text)")
        let (status, output) = try await scrape.promtoolCheck()
        #expect(status == 0, "promtool check metrics: \(output)\n\(scrape.text)")
        exporter.signal(SIGTERM)
        try await exporter.waitForExit(timeout: hangGuard)
        await client.close()
    }

    @Test("conveyor exporter whose broker accepts connections and never answers still answers the scrape: conveyor_up 0")
    func exporterBrokerDown() async throws {
        let proxy = try await FaultProxy.start(target: 5672)
        try await proxy.freeze()
        let (exporter, url) = try await startExporter([
            "--broker", "amqp://guest:guest@127.0.0.1:\(proxy.port)/%2F", "--timeout", "2", "--queue", "celery",
        ])
        let scrape = try await PrometheusScrape.get(url)
        #expect(scrape.status == 200)
        #expect(scrape.value("conveyor_up") == 0, "\(scrape.text)")
        #expect(scrape.value("conveyor_queue_messages{queue=\"celery\"}") == nil, "\(scrape.text)")
        let (status, output) = try await scrape.promtoolCheck()
        #expect(status == 0, "promtool check metrics: \(output)\n\(scrape.text)")
        exporter.signal(SIGTERM)
        try await exporter.waitForExit(timeout: hangGuard)
        proxy.thaw()
        try await proxy.stop()
    }
}
