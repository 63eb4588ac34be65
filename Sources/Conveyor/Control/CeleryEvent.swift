import Foundation

/// One Celery event as a worker sent it (`celery/events/event.py`): Celery's standard fields
/// (`type`, `hostname`, `timestamp`, `clock`, `pid`, `utcoffset`) and the event's own, in the
/// order they were sent. Sent by anything on the broker: every accessor copes with a field that
/// is missing or of the wrong type.
public struct CeleryEvent: Sendable, Hashable {
    /// The event as sent.
    public var fields: JSONObject

    /// - Parameter fields: the event's JSON object.
    public init(fields: JSONObject) {
        self.fields = fields
    }

    /// `worker-heartbeat`, `task-succeeded`, …; empty when missing.
    public var type: String { fields["type"]?.string ?? "" }
    /// The sending node (`celery@host`); empty when missing.
    public var hostname: String { fields["hostname"]?.string ?? "" }
    /// When the sender says it sent the event, epoch seconds (finite only).
    public var timestamp: Double? { fields["timestamp"]?.double.flatMap { $0.isFinite ? $0 : nil } }
    /// The task id of a `task-*` event.
    public var uuid: String? { fields["uuid"]?.string }
    /// Whether this is a `task-*` event.
    public var isTaskEvent: Bool { type.hasPrefix("task-") }

    /// The events of one message body: a JSON object, or a list of them (Python workers with an
    /// event loop buffer task events and send them as one `task.multi` message). Entries that
    /// are not objects are skipped; an unreadable body has none.
    public static func decode(_ body: some Collection<UInt8>) -> [CeleryEvent] {
        guard let json = try? JSON.parse(body) else { return [] }
        if let object = json.object { return [CeleryEvent(fields: object)] }
        return json.array?.compactMap { $0.object.map(CeleryEvent.init(fields:)) } ?? []
    }
}
