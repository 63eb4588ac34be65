import Conveyor

/// An entry's record in Redis: its last claimed due time and whether that run was sent (the
/// broker confirmed it). Claiming a due time and marking it sent are two fenced
/// compare-and-sets; a record left unsent by a dead leader is sent by the next one, with the
/// same task id.
struct BeatRecord: Equatable, Sendable {
    /// Milliseconds since 1970.
    var due: Int64
    var sent: Bool

    var bytes: [UInt8] { JSON.object(["due": .int(due), "sent": .bool(sent)]).serialized(.compact) }

    init(due: Int64, sent: Bool) {
        self.due = due
        self.sent = sent
    }

    /// nil for bytes that are not a record (written by something else: refused, not guessed at).
    init?(_ bytes: [UInt8]) {
        guard let json = try? JSON.parse(bytes), let due = json["due"]?.int, let sent = json["sent"]?.bool else { return nil }
        self.due = due
        self.sent = sent
    }

    /// The key of an entry's record (under the key-value store's prefix).
    static func key(schedule: String, entry: String) -> String { "beat:\(schedule):\(entry)" }

    /// The leader lock of a schedule.
    static func lockName(schedule: String) -> String { "beat:\(schedule)" }
}
