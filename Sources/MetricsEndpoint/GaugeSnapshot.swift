import Prometheus

/// Gauges measured at scrape time (an exporter's answer), each with its help line, in
/// Prometheus' text format: a fresh swift-prometheus registry per scrape, so series that are
/// gone (a deleted queue) are gone from the answer too.
public struct GaugeSnapshot {
    private let registry = PrometheusCollectorRegistry()
    private let help: [String: String]

    /// - Parameter help: the description of every gauge `set` will be given, by name.
    public init(help: [String: String]) {
        self.help = help
    }

    /// Sets the gauge `name` with `labels` to `value`.
    public func set(_ name: String, _ value: Double, labels: [(String, String)] = []) {
        let descriptor = MetricNameDescriptor(metricName: name, unitName: "", helpText: help[name] ?? name)
        registry.makeGauge(descriptor: descriptor, labels: labels).set(value)
    }

    /// The gauges in Prometheus' text format.
    public var exposition: [UInt8] { registry.emitToBuffer() }

    /// The `Content-Type` of Prometheus' text format.
    public static let contentType = "text/plain; version=0.0.4; charset=utf-8"
}
