import Conveyor

/// The record that keeps a mail from being sent twice: keyed by Message-ID in the fleet's
/// key/value store, it moves `sending` → `sent` (with the outcome), or is removed when the
/// attempt surely sent nothing.
///
/// A redelivered task whose mail is `sent` returns the stored outcome. One that finds `sending`
/// follows an attempt that died or timed out after the message's end: the mail may have gone,
/// and is sent again with the same Message-ID (counted as `resends` in the record).
struct SentRecords: Sendable {
    let store: KeyValueStore
    /// How long records are kept.
    let ttl: Duration

    enum State: Sendable {
        case none
        case sending(resends: Int)
        case sent(JSON)
    }

    static func key(_ messageID: String) -> String { "email:sent:" + messageID }

    func state(of messageID: String) async throws -> State {
        guard let record = try await store.json(Self.key(messageID)) else { return .none }
        switch record["state"]?.string {
        case "sent": return .sent(record["outcome"] ?? .null)
        case "sending": return .sending(resends: Int(record["resends"]?.int ?? 0))
        default: return .none
        }
    }

    /// Marks the mail as about to go; `resends` counts earlier attempts of unknown outcome.
    func markSending(_ messageID: String, resends: Int) async throws {
        try await store.set(Self.key(messageID), json: ["state": "sending", "resends": .int(Int64(resends))], ttl: ttl)
    }

    /// Records the outcome of a sent mail, and how many sends of unknown outcome came before.
    func markSent(_ messageID: String, outcome: JSON, resends: Int) async throws {
        try await store.set(Self.key(messageID), json: ["state": "sent", "outcome": outcome, "resends": .int(Int64(resends))], ttl: ttl)
    }

    /// Forgets an attempt that surely sent nothing.
    func clear(_ messageID: String) async throws {
        try await store.delete(Self.key(messageID))
    }
}
