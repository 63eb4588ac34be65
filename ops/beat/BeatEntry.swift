import Conveyor
import Foundation

/// One periodic task of a schedule: what to send, and when.
public struct BeatEntry: Sendable {
    /// When an entry is due.
    public enum Trigger: Sendable, CustomStringConvertible {
        /// Every so many milliseconds, counted from the entry's first sighting (kept in Redis,
        /// so every instance agrees).
        case every(milliseconds: Int64)
        /// On the times a crontab matches.
        case cron(Crontab)

        public var description: String {
            switch self {
            case let .every(milliseconds): "every \(Double(milliseconds) / 1000) s"
            case let .cron(crontab): "cron \(crontab)"
            }
        }
    }

    /// What happens to the runs missed while no instance ran (a full outage), or while a
    /// failover was under way.
    public enum CatchUp: String, Sendable, CaseIterable {
        /// Only a run late by at most the grace (the leader lease) still fires; older ones are
        /// skipped.
        case none
        /// The newest missed run fires once; older ones are skipped.
        case one
        /// Every missed run fires, oldest first, up to the schedule's `maxCatchUp` newest
        /// (older ones are skipped with a warning).
        case all
    }

    /// The entry's name: 1 to 128 of `A-Z a-z 0-9 . _ -`.
    public let name: String
    /// The task's registered name.
    public let task: String
    /// Positional arguments of each run.
    public let args: [JSON]
    /// Keyword arguments of each run.
    public let kwargs: JSONObject
    /// Queue, countdown, expiry, priority and time limits for each run (no task id: each
    /// run's is derived from the entry and its due time).
    public let options: TaskOptions
    /// When it is due.
    public let trigger: Trigger
    /// What happens to runs missed during an outage or a failover.
    public let catchUp: CatchUp
    /// The line of the schedule file where the entry starts (0 when built in code).
    public let line: Int

    /// - Parameters: as the properties.
    public init(name: String, task: String, args: [JSON] = [], kwargs: JSONObject = [:], options: TaskOptions = .init(),
                trigger: Trigger, catchUp: CatchUp = .one, line: Int = 0) {
        self.name = name
        self.task = task
        self.args = args
        self.kwargs = kwargs
        self.options = options
        self.trigger = trigger
        self.catchUp = catchUp
        self.line = line
    }

    /// Whether `name` may name an entry or a schedule (it becomes part of Redis keys and task ids).
    public static func isValidName(_ name: String) -> Bool {
        !name.isEmpty && name.utf8.count <= 128 && name.unicodeScalars.allSatisfy {
            $0.isASCII && (CharacterSet.alphanumerics.contains($0) || "._-".unicodeScalars.contains($0))
        }
    }

    /// The first due time strictly after `milliseconds` (since 1970), or nil when none comes.
    public func next(after milliseconds: Int64) -> Int64? {
        switch trigger {
        case let .every(interval):
            let (sum, overflow) = milliseconds.addingReportingOverflow(interval)
            return overflow ? nil : sum
        case let .cron(crontab):
            return crontab.next(after: Date(timeIntervalSince1970: Double(milliseconds) / 1000))
                .map { Int64(($0.timeIntervalSince1970 * 1000).rounded()) }
        }
    }

    /// The task id of the run due at `milliseconds`: the same for every instance and every
    /// retry, so a run published twice is one task.
    public func taskId(schedule: String, due milliseconds: Int64) -> String {
        "beat:\(schedule):\(name):\(milliseconds)"
    }
}
