/// One message to send: who it is from and to (the SMTP envelope) and its RFC 5322 bytes.
struct SMTPEnvelope: Sendable {
    var from: String
    var recipients: [String]
    /// The message, CRLF line endings, without the final dot (libcurl adds it and dot-stuffs).
    var message: [UInt8]
}

/// What the server did with a message it took (at least one recipient accepted and 2xx after
/// the final dot).
public struct SMTPReceipt: Sendable, Equatable {
    /// Recipients the server accepted, in the order given.
    public var accepted: [String]
    /// Recipients the server refused, with its reply (`550 5.1.1 no such user`).
    public var rejected: [String: String]
    /// The reply after the message's end (`250 2.0.0 OK: queued as …`).
    public var reply: String
}
