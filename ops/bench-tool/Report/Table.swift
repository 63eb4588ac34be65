import Foundation

/// The human-readable form of a run: one table, then the targets with PASS or MISS.
enum Table {
    static let sections: [(key: String, title: String)] = [
        ("publish", "1. Publish with confirms (a send returns once RabbitMQ confirmed it)"),
        ("e2e", "2. End to end: no-op tasks queued first, then drained by a worker that stores results in Redis"),
        ("latency", "3. Round trip, one task at a time (enqueue -> worker -> result awaited), HdrHistogram"),
        ("footprint", "4. Worker footprint"),
        ("scaling", "5. Scaling (Conveyor)"),
        ("repos", "6. Repository jobs: diffs.compute in process against git diff per call (same machine, same pairs)"),
        ("email", "7. email.send drained by one worker into one SMTP sink: Conveyor (libcurl) against Celery (smtplib)"),
        ("control", "8. Remote control under load: celery inspect ping -d NODE -t 1 while every slot runs a sleep task"),
        ("scale", "9. Scale (Conveyor, --only scale): a large backlog, large payloads, eight worker processes"),
    ]

    /// Renders the rows, a header line describing the run, and the targets.
    static func render(_ rows: [Row], outcomes: [Target.Outcome], header: [String], footnotes: [String]) -> String {
        var lines = header
        let columns = ["", "N", "result", "vs Celery", "vs ceiling", "notes"]
        for section in sections {
            let sectionRows = rows.filter { $0.section == section.key }
            guard !sectionRows.isEmpty else { continue }
            lines.append("")
            lines.append(section.title)
            lines.append(format(columns))
            for row in sectionRows {
                lines.append(format([
                    "  " + row.label,
                    row.count.map(grouped) ?? "",
                    row.error == nil ? (row.value.map { value($0, row.unit) } ?? "-") : "ERROR",
                    row.vsCelery.map(times) ?? "",
                    // A share of a throughput ceiling; a multiple of a time (the round trip's).
                    row.vsCeiling.map(row.unit.higherIsBetter ? percent : times) ?? "",
                    row.error.map { "error: " + String($0.prefix(160)) } ?? (row.note ?? ""),
                ]))
            }
        }
        lines.append("")
        lines.append("Targets (issues 4, 12 and 15, ratios from this run)")
        for outcome in outcomes {
            var verdict = outcome.passed.map { $0 ? "PASS" : "MISS" } ?? "n/a "
            if outcome.target.informational { verdict = outcome.passed.map { $0 ? "(ok)" : "(no)" } ?? "    " }
            let measured = outcome.ratio.map { ratio in
                switch outcome.target.reference {
                case .celery: return "\(times(ratio)) Celery"
                case .ceiling: return outcome.target.atLeast ? "\(percent(ratio)) of the ceiling" : "\(times(ratio)) the ceiling"
                case .row: return times(ratio)
                case .value:
                    let unit = rows.first { $0.key == outcome.target.key }?.unit
                    return unit.map { value(ratio, $0) } ?? "\(ratio)"
                }
            } ?? "not measured"
            lines.append("  \(verdict)  \(outcome.target.text): \(measured)")
        }
        if !footnotes.isEmpty {
            lines.append("")
            lines.append(contentsOf: footnotes)
        }
        return lines.joined(separator: "\n") + "\n"
    }

    private static let widths = [56, 7, 15, 10, 11]

    private static func format(_ cells: [String]) -> String {
        var line = ""
        for (index, cell) in cells.enumerated() {
            if index < widths.count {
                let padding = String(repeating: " ", count: max(0, widths[index] - cell.count))
                line += index == 0 ? cell + padding : padding + cell
                line += "  "
            } else {
                line += cell
            }
        }
        return line.trimmingCharacters(in: .whitespaces).isEmpty ? "" : String(line.reversed().drop(while: { $0 == " " }).reversed())
    }

    static func value(_ value: Double, _ unit: Row.Unit) -> String {
        // A measurement over no time at all (a rate of infinity) must not trap the Int conversion.
        guard value.isFinite else { return "n/a" }
        switch unit {
        case .tasksPerSecond: return "\(grouped(Int(value.rounded())))/s"
        case .milliseconds: return String(format: value < 10 ? "%.2f ms" : "%.1f ms", value)
        case .megabytes: return String(format: "%.1f MB", value)
        case .seconds: return String(format: "%.2f s", value)
        case .megabytesPerCPUSecond: return String(format: "%.1f MB/CPU-s", value)
        case .count: return grouped(Int(value.rounded()))
        }
    }

    static func times(_ ratio: Double) -> String {
        String(format: ratio >= 10 ? "%.0fx" : ratio >= 1 ? "%.1fx" : "%.2fx", ratio)
    }

    static func percent(_ ratio: Double) -> String {
        String(format: "%.0f%%", ratio * 100)
    }

    static func grouped(_ number: Int) -> String {
        let digits = String(number)
        var out = ""
        for (index, character) in digits.enumerated() {
            if index > 0 && (digits.count - index) % 3 == 0 { out.append(",") }
            out.append(character)
        }
        return out
    }
}
