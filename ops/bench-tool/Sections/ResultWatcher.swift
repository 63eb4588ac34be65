import Conveyor
import Foundation
import IOSupport

extension BenchContext {
    /// Waits until every task in `ids` has a stored SUCCESS; returns the earliest and latest
    /// `date_done`, when the workers stored the first and the last result (to the microsecond,
    /// unlike any polling).
    /// Throws on a FAILURE or after `timeout` seconds.
    ///
    /// A queue drains roughly in order, so it polls only the last 64 outstanding ids (one small
    /// MGET every 10 ms, light enough not to disturb the workers); once those are done it checks
    /// all of them, and keeps polling any stragglers.
    func waitForResults(_ ids: [String], timeout: Double) async throws -> ClosedRange<Date> {
        let deadline = monotonicSeconds() + timeout
        var pending = ids
        while true {
            let polledAt = monotonicSeconds()
            let tail = try await client.results(for: Array(pending.suffix(64)))
            try Self.checkFailures(tail)
            if tail.allSatisfy({ $0.state.isReady }) {
                let all = try await client.results(for: pending)
                try Self.checkFailures(all)
                pending = all.filter { !$0.state.isReady }.map(\.id)
                if pending.isEmpty { return try await doneRange(ids) }
            }
            if polledAt > deadline {
                throw BenchError("\(pending.count) of \(ids.count) results still missing after \(Int(timeout)) s")
            }
            try await Task.sleep(for: .milliseconds(10))
        }
    }

    /// The earliest and latest `date_done` among `ids` (read after the run, so not timed).
    private func doneRange(_ ids: [String]) async throws -> ClosedRange<Date> {
        let results = try await client.results(for: ids)
        if let missing = results.first(where: { $0.dateDone == nil }) {
            throw BenchError("task \(missing.id) has no date_done in its stored result")
        }
        let dates = results.compactMap(\.dateDone)
        guard let first = dates.min(), let last = dates.max() else { throw BenchError("no results to time") }
        return first...last
    }

    private static func checkFailures(_ results: [TaskResult]) throws {
        if let failed = results.first(where: { $0.state.isReady && $0.state != .success }) {
            throw BenchError("task \(failed.id) ended \(failed.state): \(failed.value.text(.compact))")
        }
    }
}
