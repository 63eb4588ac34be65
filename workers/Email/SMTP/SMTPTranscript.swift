/// What the server answered during one libcurl SMTP transfer, read from libcurl's debug stream
/// (`CURLINFO_HEADER_OUT` = our command lines, `CURLINFO_HEADER_IN` = the server's reply lines).
///
/// libcurl reports one result code per transfer; the per-recipient replies, and whether the
/// message's end was sent, come from here.
final class SMTPTranscript {
    /// A complete reply: its code and its last line's text (`550 5.1.1 no such user`).
    struct Reply: Sendable, Equatable {
        var code: Int
        var text: String
    }

    /// The command each reply answers, by its verb.
    private(set) var lastCommand = ""
    /// The greeting or the last reply to EHLO, AUTH, STARTTLS, MAIL: the first non-2xx/3xx one
    /// ends the transfer before any recipient.
    private(set) var sessionFailure: Reply?
    /// Replies to RCPT TO, in order, with the address each was for.
    private(set) var recipients: [(address: String, reply: Reply)] = []
    /// The reply to DATA (354 to go on).
    private(set) var dataReply: Reply?
    /// The reply after the message's end: the server's verdict on the whole message.
    private(set) var finalReply: Reply?
    /// The upload reached its end (libcurl then sends the final dot).
    var bodyComplete = false
    private var pendingRecipient: String?
    private var partial = ""

    /// Clears everything for the next transfer on the same connection.
    func reset() {
        lastCommand = ""
        sessionFailure = nil
        recipients = []
        dataReply = nil
        finalReply = nil
        bodyComplete = false
        pendingRecipient = nil
        partial = ""
    }

    /// One chunk of command lines we sent.
    func sent(_ text: String) {
        for line in text.split(whereSeparator: \.isNewline) where !line.isEmpty {
            let upper = line.uppercased()
            if upper.hasPrefix("RCPT TO:") {
                lastCommand = "RCPT"
                pendingRecipient = Self.address(in: line.dropFirst("RCPT TO:".count))
            } else {
                lastCommand = String(upper.prefix { $0 != " " })
            }
        }
    }

    /// One chunk of reply lines received. A reply ends at a line whose code is followed by a
    /// space (or nothing); `NNN-` lines continue it.
    func received(_ text: String) {
        partial += text
        while let end = partial.firstIndex(where: \.isNewline) {
            let line = String(partial[..<end])
            partial = String(partial[partial.index(after: end)...].drop { $0.isNewline })
            guard line.count >= 3, let code = Int(line.prefix(3)) else { continue }
            let separator = line.dropFirst(3).first
            guard separator == nil || separator == " " else { continue }
            complete(Reply(code: code, text: line))
        }
    }

    private func complete(_ reply: Reply) {
        switch lastCommand {
        case "RCPT":
            recipients.append((pendingRecipient ?? "", reply))
            pendingRecipient = nil
        case "DATA" where dataReply == nil:
            dataReply = reply
        case "DATA":
            finalReply = reply
        case "QUIT", "NOOP", "RSET":
            break
        default:
            if reply.code >= 400 { sessionFailure = reply }
        }
    }

    /// `<a@b> SIZE=…` → `a@b`.
    private static func address(in argument: Substring) -> String {
        let trimmed = argument.drop { $0 == " " }
        guard trimmed.first == "<", let close = trimmed.firstIndex(of: ">") else {
            return String(trimmed.prefix { $0 != " " })
        }
        return String(trimmed[trimmed.index(after: trimmed.startIndex)..<close])
    }
}
