import AMQP
import Foundation

extension TaskMessage {
    /// Checks the numbers a message carries before it is published: `eta` and `expires` in the
    /// years 1…9999 (what Celery can read back), time limits finite and above 0, and no NaN or
    /// infinite float anywhere in the headers. RabbitMQ 3.10's channel process crashes on such a
    /// float in `basic.publish` and closes the publisher's connection (541 INTERNAL_ERROR), which
    /// would fail every other publish in flight on it; the message itself is not enqueued.
    /// - Throws: `ConveyorError.Code.invalidArguments` naming the field or header.
    func checkNumbers() throws {
        func refuse(_ why: String) -> ConveyorError { ConveyorError(.invalidArguments, "task \(task)[\(id)]: \(why)") }
        for (name, date) in [("eta", eta), ("expires", expires)] {
            if let date, !ISO8601.isRepresentable(date) {
                throw refuse("\(name) must lie in the years 1...9999, not \(date.timeIntervalSince1970) s since 1970")
            }
        }
        for (name, limit) in [("timeLimit", timeLimit), ("softTimeLimit", softTimeLimit)] {
            if let limit, !(limit.isFinite && limit > 0) { throw refuse("\(name) must be a finite number of seconds above 0, not \(limit)") }
        }
        if let header = TaskMessage.nonFiniteHeader(in: extraHeaders) {
            throw refuse("header '\(header)' holds a NaN or infinite number, which RabbitMQ cannot deliver")
        }
    }

    /// The key (or `key.nested`) of the first NaN or infinite float in `table`, or nil.
    static func nonFiniteHeader(in table: FieldTable) -> String? {
        for entry in table.entries {
            if let path = nonFinitePath(entry.value) { return path.isEmpty ? entry.key : entry.key + "." + path }
        }
        return nil
    }

    /// "" when `value` itself is a non-finite float, the path below it when it holds one, nil otherwise.
    private static func nonFinitePath(_ value: FieldValue) -> String? {
        switch value {
        case let .float(f): return f.isFinite ? nil : ""
        case let .double(d): return d.isFinite ? nil : ""
        case let .array(items):
            for (index, item) in items.enumerated() {
                if let path = nonFinitePath(item) { return path.isEmpty ? "\(index)" : "\(index).\(path)" }
            }
            return nil
        case let .table(table): return nonFiniteHeader(in: table)
        default: return nil
        }
    }
}
