/// One line of the benchmark table: a measurement (the median of its repetitions), and how it
/// compares with the matching Celery row and the raw ceiling.
struct Row: Encodable, Sendable {
    /// What the numbers count; decides formatting and which way is better.
    enum Unit: String, Codable, Sendable {
        case tasksPerSecond = "tasks/s"
        case milliseconds = "ms"
        case megabytes = "MB"
        case seconds = "s"
        case megabytesPerCPUSecond = "MB/CPU-s"
        case count = "count"

        /// Throughput is better high; time, memory and counts (of work done) are better low.
        var higherIsBetter: Bool { self == .tasksPerSecond || self == .megabytesPerCPUSecond }
    }

    /// Stable identifier (`e2e.conveyor`), used by ratios, targets and `--json` readers.
    var key: String
    /// The table section: publish, e2e, latency, footprint, scaling.
    var section: String
    var label: String
    var unit: Unit
    /// One value per repetition (in `unit`).
    var samples: [Double] = []
    /// Tasks per repetition, where that means something.
    var count: Int?
    /// The row this one is compared with, if any.
    var celeryKey: String?
    var ceilingKey: String?
    /// `value / celery value` and `value / ceiling value`, filled in by `Report`.
    var vsCelery: Double?
    var vsCeiling: Double?
    var note: String?
    /// Why the row has no value.
    var error: String?

    init(key: String, section: String, label: String, unit: Unit, count: Int? = nil,
         celery: String? = nil, ceiling: String? = nil, note: String? = nil) {
        self.key = key
        self.section = section
        self.label = label
        self.unit = unit
        self.count = count
        celeryKey = celery
        ceilingKey = ceiling
        self.note = note
    }

    /// The median of the samples (the middle one of three; noisy machines need it).
    var value: Double? {
        guard !samples.isEmpty else { return nil }
        let sorted = samples.sorted()
        let middle = sorted.count / 2
        return sorted.count % 2 == 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2
    }

    enum CodingKeys: String, CodingKey {
        case key, section, label, unit, samples, count, value
        case celeryKey = "celery_key", ceilingKey = "ceiling_key", vsCelery = "vs_celery", vsCeiling = "vs_ceiling"
        case note, error
    }

    /// Written by hand so every key is present (null when unknown) and the median goes out as `value`.
    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(key, forKey: .key)
        try container.encode(section, forKey: .section)
        try container.encode(label, forKey: .label)
        try container.encode(unit, forKey: .unit)
        try container.encode(samples, forKey: .samples)
        try container.encode(value, forKey: .value)
        try container.encode(count, forKey: .count)
        try container.encode(celeryKey, forKey: .celeryKey)
        try container.encode(ceilingKey, forKey: .ceilingKey)
        try container.encode(vsCelery, forKey: .vsCelery)
        try container.encode(vsCeiling, forKey: .vsCeiling)
        try container.encode(note, forKey: .note)
        try container.encode(error, forKey: .error)
    }
}
