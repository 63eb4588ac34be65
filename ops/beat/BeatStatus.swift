import Conveyor
import Foundation

/// What `conveyor beat list` shows: each entry's last and next run, and who leads.
public struct BeatStatus: Sendable {
    /// One entry's state.
    public struct Entry: Sendable {
        /// The entry's name.
        public let name: String
        /// Its interval or crontab, as text.
        public let trigger: String
        /// The last claimed due time (nil: never seen by a leader yet).
        public let last: Date?
        /// Whether the last claimed run was confirmed by the broker.
        public let lastSent: Bool
        /// The next due time (from the last one, or from now when never seen).
        public let next: Date?
    }

    /// The schedule's name.
    public let schedule: String
    /// Every entry, in the file's order.
    public let entries: [Entry]
    /// The current leader's holder name and fencing token, nil when no instance leads.
    public let leader: (holder: String, token: Int64, millisecondsLeft: Int64)?

    /// Reads the records and the lease of `schedule` from `client`'s Redis.
    /// - Throws: `backendUnavailable` when Redis does not answer.
    public static func read(_ schedule: BeatSchedule, client: ConveyorClient, now: Date = Date()) async throws -> BeatStatus {
        var entries: [Entry] = []
        for entry in schedule.entries {
            let bytes = try await client.keyValues.get(BeatRecord.key(schedule: schedule.name, entry: entry.name))
            let record = bytes.flatMap(BeatRecord.init)
            let from = record?.due ?? Int64((now.timeIntervalSince1970 * 1000).rounded(.down))
            entries.append(Entry(name: entry.name, trigger: "\(entry.trigger)",
                                 last: record.map { Date(timeIntervalSince1970: Double($0.due) / 1000) }, lastSent: record?.sent ?? true,
                                 next: entry.next(after: from).map { Date(timeIntervalSince1970: Double($0) / 1000) }))
        }
        let name = BeatRecord.lockName(schedule: schedule.name)
        let lock = try await client.locks.list(prefix: name).first { $0.name == name }
        return BeatStatus(schedule: schedule.name, entries: entries, leader: lock.map { ($0.holder, $0.token, $0.millisecondsLeft) })
    }

    /// Sends one run of `entry` now, with a new task id, leaving its schedule as it is.
    /// - Returns: the task id.
    /// - Throws: what the publisher throws.
    public static func runNow(_ entry: BeatEntry, schedule: BeatSchedule, publisher: any BeatPublisher) async throws -> String {
        let taskId = "beat:\(schedule.name):\(entry.name):now-\(UUID().uuidString.lowercased())"
        try await publisher.publish(entry, taskId: taskId)
        return taskId
    }
}
