import Foundation
import Synchronization

/// Every row of one benchmark run, in table order, filled in as the measurements come.
final class Report: Sendable {
    private let rows: Mutex<[Row]>

    /// - Parameter plan: the rows to measure, in the order they are printed.
    init(plan: [Row]) {
        rows = Mutex(plan)
    }

    /// Adds one repetition's value to a row.
    func record(_ key: String, _ value: Double) {
        update(key) { $0.samples.append(value) }
    }

    /// Marks a row failed; the run exits non-zero.
    func fail(_ key: String, _ error: any Error) {
        update(key) { row in
            let text = "\(error)"
            row.error = row.error.map { $0 + "; " + text } ?? text
        }
    }

    /// Appends to a row's note.
    func annotate(_ key: String, _ text: String) {
        update(key) { row in row.note = row.note.map { $0 + "; " + text } ?? text }
    }

    private func update(_ key: String, _ change: (inout Row) -> Void) {
        rows.withLock { rows in
            guard let index = rows.firstIndex(where: { $0.key == key }) else { return }
            change(&rows[index])
        }
    }

    /// The rows with their ratios to Celery and the ceiling computed.
    var finished: [Row] {
        rows.withLock { rows in
            let values = Dictionary(rows.map { ($0.key, $0.value) }, uniquingKeysWith: { first, _ in first })
            return rows.map { row in
                var row = row
                if let value = row.value {
                    if let key = row.celeryKey, let reference = values[key] ?? nil, reference > 0 { row.vsCelery = value / reference }
                    if let key = row.ceilingKey, let reference = values[key] ?? nil, reference > 0 { row.vsCeiling = value / reference }
                }
                return row
            }
        }
    }

    /// Rows that were planned and measured but failed.
    var failures: [Row] { finished.filter { $0.error != nil } }
}
