import AMQP

/// Makes a send unique: while a task with the same key is pending or running, sending it again
/// returns the first task's handle instead of publishing a second one.
///
/// The claim is one atomic `SET NX EX` of the key to the first task's id in Redis, so however
/// many clients send at once, one publishes. Its TTL bounds it: a crashed client or worker
/// never leaves a key claimed for longer than the window.
///
/// ```swift
/// let handle = try await client.send(taskNamed: "diffs.compute", kwargs: ["base": "a1", "head": "b2"],
///                                    options: TaskOptions(unique: .until(.success)))
/// ```
public struct Uniqueness: Sendable, Hashable {
    /// When an `.until` claim is freed.
    public struct Event: Sendable, Hashable {
        /// When the task's outcome is recorded: SUCCESS, and also a final FAILURE or REVOKED
        /// (so sending it again to try again works). RETRY keeps it claimed, as does a deferral.
        public static let success = Event()
    }

    /// Seconds the claim lives at most.
    public let seconds: Double
    /// Whether the worker frees the claim when the outcome is recorded (false: only the
    /// window ends it).
    public let freedOnOutcome: Bool

    /// Claimed until the outcome is recorded (see `Event.success`), and at most `within`
    /// seconds (a day by default) whatever happens: finite, above 0, at most 30 days.
    public static func until(_ event: Event, within seconds: Double = 86_400) -> Uniqueness {
        Uniqueness(seconds: seconds, freedOnOutcome: true)
    }

    /// Claimed for exactly `seconds` from the first send, whatever the task does (at most one
    /// such task per window): finite, above 0, at most 30 days.
    public static func `for`(_ seconds: Double) -> Uniqueness {
        Uniqueness(seconds: seconds, freedOnOutcome: false)
    }

    /// The header a message carries its claim's key in, for the worker to free it. Celery and
    /// other clients pass unknown headers through, and ignore it.
    static let header = "x-conveyor-unique"

    /// Whether `message` carries a claim the worker frees when it ends.
    static func holds(_ message: TaskMessage) -> Bool {
        message.extraHeaders[header]?.stringValue != nil
    }

    /// The TTL of the claim in whole seconds (rounded up).
    /// - Throws: `ConveyorError.Code.invalidArguments` when not finite, not above 0 or over 30 days.
    func ttlSeconds() throws -> Int {
        guard seconds.isFinite, seconds > 0, seconds <= Double(CoordinationInput.maxLeaseSeconds) else {
            throw ConveyorError(.invalidArguments,
                                "unique window must be a finite number of seconds above 0 and at most \(CoordinationInput.maxLeaseSeconds), not \(seconds)")
        }
        return Int(seconds.rounded(.up))
    }

    /// The claim's key: `custom`, or the task name and the SHA-1 of its arguments as canonical
    /// JSON (object keys sorted, no whitespace), so the same call always gives the same key.
    /// - Throws: `invalidArguments` for an empty or oversized custom key, or arguments that
    ///   have no canonical form (NaN or infinite numbers).
    static func key(task: String, args: [JSON], kwargs: JSONObject, custom: String?) throws -> String {
        if let custom { return "key:" + (try CoordinationInput.key(custom, "unique key")) }
        var text = ""
        do {
            try canonical(.array([.string(task), .array(args), .object(kwargs)]), into: &text)
        } catch let error as ConveyorError {
            throw ConveyorError(.invalidArguments, "unique task \(task) cannot be keyed by its arguments: \(error.message); pass a key")
        }
        return "task:" + sha1Hex(text)
    }

    private static func canonical(_ value: JSON, into text: inout String) throws {
        switch value {
        case let .double(number):
            guard number.isFinite else { throw ConveyorError(.invalidArguments, "\(number) has no JSON form") }
            // Integral floats as integers: Python sends 2.0 where Swift may have 2.
            if number.rounded() == number, abs(number) < 9.0e15 { text += String(Int64(number)) } else { text += "\(number)" }
        case let .array(items):
            text += "["
            for (index, item) in items.enumerated() {
                if index > 0 { text += "," }
                try canonical(item, into: &text)
            }
            text += "]"
        case let .object(object):
            text += "{"
            for (index, member) in object.members.sorted(by: { $0.key < $1.key }).enumerated() {
                if index > 0 { text += "," }
                text += JSON.string(member.key).text(.compact) + ":"
                try canonical(member.value, into: &text)
            }
            text += "}"
        default:
            text += value.text(.compact)
        }
    }
}
