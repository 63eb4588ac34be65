import Conveyor
import CoreMetrics
import Foundation
import Logging
import MetricsEndpoint

/// `--metrics ADDR:PORT`: Prometheus' `/metrics` and a `/healthz` probe on one port.
extension WorkerCommand {
    /// The address `--metrics` (or CONVEYOR_METRICS) names, checked; nil when neither is set.
    func metricsAddress() -> ListenAddress? {
        let environment = ProcessInfo.processInfo.environment["CONVEYOR_METRICS"].flatMap { $0.isEmpty ? nil : $0 }
        guard let text = metrics ?? environment else { return nil }
        switch ListenAddress.parse(text) {
        case let .success(address): return address
        case let .failure(problem): fail("--metrics: \(problem)")
        }
    }

    /// Makes swift-prometheus the process's metrics backend: called before the worker is
    /// created, whose metric handles are made in its initialiser.
    static func bootstrapPrometheus() -> DescribedPrometheusFactory {
        let factory = DescribedPrometheusFactory(help: Worker.metricDescriptions)
        MetricsSystem.bootstrap(factory)
        return factory
    }

    /// Serves `/metrics` (the worker's series and `process_*`) and `/healthz` (200 when the
    /// worker's health is ok or degraded, 503 when it is stopping or not consuming).
    static func serveMetrics(at address: ListenAddress, factory: DescribedPrometheusFactory, worker: Worker,
                             logger: Logger) async -> HTTPEndpoint {
        let registry = factory.registry
        do {
            let endpoint = try await HTTPEndpoint(address: address, logger: logger) { method, path in
                guard method == "GET" else { return .text(405, "only GET\n") }
                switch path {
                case "/metrics":
                    var body = registry.emitToBuffer()
                    body += Array(ProcessMetrics.exposition().utf8)
                    return HTTPEndpoint.Response(status: 200, contentType: GaugeSnapshot.contentType, body: body)
                case "/healthz":
                    let health = worker.health
                    let serving = health.status != .stopping && health.consuming
                    return HTTPEndpoint.Response(status: serving ? 200 : 503, contentType: "application/json",
                                                 body: health.json.serialized(.compact) + [UInt8(ascii: "\n")])
                default:
                    return .notFound
                }
            }
            logger.info("metrics listening", metadata: ["address": "\(endpoint.address)"])
            return endpoint
        } catch {
            fail("--metrics: cannot listen on \(address): \(error)")
        }
    }
}
