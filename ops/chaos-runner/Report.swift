import Conveyor
import Foundation

enum Report {
    static func print(_ rows: [(Scenario, Result<Verdict, Error>, Double)], json: Bool) {
        let header = ["scenario", "ok", "refused", "unknown", "succeeded", "failed", "dead", "lost", "dup", "recovery", "time", "result"]
        var table: [[String]] = [header]
        var documents: [JSON] = []
        for (scenario, outcome, seconds) in rows {
            switch outcome {
            case let .success(v):
                table.append([scenario.name, "\(v.ok)", "\(v.refused)", "\(v.unknown)", "\(v.succeeded)", "\(v.failed)", "\(v.deadLettered)",
                              "\(v.lost.count)", "\(v.duplicates)", v.recoverySeconds.map { String(format: "%.2fs", $0) } ?? "-",
                              String(format: "%.0fs", seconds), v.passed ? "PASS" : "FAIL"])
                documents.append([
                    "scenario": .string(scenario.name), "ok": .int(Int64(v.ok)), "refused": .int(Int64(v.refused)), "unknown": .int(Int64(v.unknown)),
                    "succeeded": .int(Int64(v.succeeded)), "failed": .int(Int64(v.failed)), "dead_lettered": .int(Int64(v.deadLettered)),
                    "lost": .array(v.lost.map(JSON.string)), "duplicates": .int(Int64(v.duplicates)),
                    "recovery_seconds": v.recoverySeconds.map(JSON.double) ?? .null, "passed": .bool(v.passed),
                    "notes": .array(v.notes.map(JSON.string)), "problems": .array(v.problems.map(JSON.string)),
                ])
            case let .failure(error):
                table.append([scenario.name, "-", "-", "-", "-", "-", "-", "-", "-", "-", String(format: "%.0fs", seconds), "ERROR"])
                documents.append(["scenario": .string(scenario.name), "passed": false, "error": .string("\(error)")])
            }
        }
        let widths = header.indices.map { column in table.map { $0[column].count }.max() ?? 0 }
        for row in table {
            Swift.print(row.enumerated().map { $1.padding(toLength: widths[$0], withPad: " ", startingAt: 0) }.joined(separator: "  "))
        }
        for (scenario, outcome, _) in rows {
            switch outcome {
            case let .success(v):
                for note in v.notes { Swift.print("  \(scenario.name): \(note)") }
                for problem in v.problems { Swift.print("  \(scenario.name): PROBLEM: \(problem)") }
                if !v.lost.isEmpty { Swift.print("  \(scenario.name): LOST \(v.lost.prefix(5).joined(separator: ", "))\(v.lost.count > 5 ? " …" : "")") }
            case let .failure(error):
                Swift.print("  \(scenario.name): ERROR: \(error)")
            }
        }
        if json { Swift.print(JSON.array(documents).text(.compact)) }
    }
}
