import CoreMetrics
import Prometheus

/// swift-prometheus' factory with a `# HELP` line for each series it knows a description of
/// (`promtool check metrics` wants one for every metric), and histogram buckets for timers that
/// span milliseconds to minutes. Metrics it has no description of go to the plain factory.
public struct DescribedPrometheusFactory: MetricsFactory {
    /// Where every metric is kept; `emit` it to answer a scrape.
    public let registry: PrometheusCollectorRegistry
    private let plain: PrometheusMetricsFactory
    private let help: [String: String]
    private let buckets: [Duration]

    /// Seconds, from a millisecond to five minutes: queue waits and task runs.
    public static let taskBuckets: [Duration] = [
        .milliseconds(1), .milliseconds(5), .milliseconds(10), .milliseconds(25), .milliseconds(50), .milliseconds(100),
        .milliseconds(250), .milliseconds(500), .seconds(1), .milliseconds(2500), .seconds(5), .seconds(10), .seconds(30),
        .seconds(60), .seconds(300),
    ]

    /// - Parameters:
    ///   - help: a description per metric name.
    ///   - registry: where the metrics are kept.
    ///   - timerBuckets: the buckets of every timer's histogram.
    public init(help: [String: String], registry: PrometheusCollectorRegistry = PrometheusCollectorRegistry(),
                timerBuckets: [Duration] = Self.taskBuckets) {
        self.registry = registry
        self.help = help
        buckets = timerBuckets
        var plain = PrometheusMetricsFactory(registry: registry)
        plain.defaultDurationHistogramBuckets = timerBuckets
        self.plain = plain
    }

    private func descriptor(_ label: String) -> MetricNameDescriptor? {
        help[label].map { MetricNameDescriptor(metricName: label, unitName: "", helpText: $0) }
    }

    /// A Prometheus counter, with its help line when described.
    public func makeCounter(label: String, dimensions: [(String, String)]) -> any CounterHandler {
        guard let descriptor = descriptor(label) else { return plain.makeCounter(label: label, dimensions: dimensions) }
        return registry.makeCounter(descriptor: descriptor, labels: dimensions)
    }

    /// A Prometheus counter taking fractions, with its help line when described.
    public func makeFloatingPointCounter(label: String, dimensions: [(String, String)]) -> any FloatingPointCounterHandler {
        guard let descriptor = descriptor(label) else { return plain.makeFloatingPointCounter(label: label, dimensions: dimensions) }
        return registry.makeCounter(descriptor: descriptor, labels: dimensions)
    }

    /// A gauge (a non-aggregating recorder, with its help line when described) or a value histogram.
    public func makeRecorder(label: String, dimensions: [(String, String)], aggregate: Bool) -> any RecorderHandler {
        guard !aggregate, let descriptor = descriptor(label) else {
            return plain.makeRecorder(label: label, dimensions: dimensions, aggregate: aggregate)
        }
        return registry.makeGauge(descriptor: descriptor, labels: dimensions)
    }

    /// A Prometheus gauge, with its help line when described.
    public func makeMeter(label: String, dimensions: [(String, String)]) -> any MeterHandler {
        guard let descriptor = descriptor(label) else { return plain.makeMeter(label: label, dimensions: dimensions) }
        return registry.makeGauge(descriptor: descriptor, labels: dimensions)
    }

    /// A duration histogram in seconds over the timer buckets, with its help line when described.
    public func makeTimer(label: String, dimensions: [(String, String)]) -> any TimerHandler {
        guard let descriptor = descriptor(label) else { return plain.makeTimer(label: label, dimensions: dimensions) }
        return registry.makeDurationHistogram(descriptor: descriptor, labels: dimensions, buckets: buckets)
    }

    /// Unregisters a counter.
    public func destroyCounter(_ handler: any CounterHandler) { plain.destroyCounter(handler) }
    /// Unregisters a counter.
    public func destroyFloatingPointCounter(_ handler: any FloatingPointCounterHandler) { plain.destroyFloatingPointCounter(handler) }
    /// Unregisters a gauge or histogram.
    public func destroyRecorder(_ handler: any RecorderHandler) { plain.destroyRecorder(handler) }
    /// Unregisters a gauge.
    public func destroyMeter(_ handler: any MeterHandler) { plain.destroyMeter(handler) }
    /// Unregisters a duration histogram.
    public func destroyTimer(_ handler: any TimerHandler) { plain.destroyTimer(handler) }
}
