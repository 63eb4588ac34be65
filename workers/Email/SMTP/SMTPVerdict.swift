import CCurl

/// What one transfer came to, from libcurl's result and the server's replies.
///
/// - A 5xx reply to the session (greeting, MAIL), to every recipient, or after the message's
///   end is permanent; a 4xx there is temporary.
/// - Recipients refused while others were accepted do not fail the message: they are reported.
/// - A failure with no reply is a connection failure before the message's end, or an unknown
///   outcome when the whole message (and so the final dot) had gone out.
struct SMTPVerdict {
    let transcript: SMTPTranscript
    let curlCode: UInt32
    let curlMessage: String
    let recipients: [String]

    var outcome: Result<SMTPReceipt, EmailError> {
        if let failure = transcript.sessionFailure {
            return .failure(refusal(failure, "the SMTP server refused the session"))
        }
        let accepted = transcript.recipients.filter { (200..<300).contains($0.reply.code) }.map(\.address)
        var rejected: [String: String] = [:]
        for (address, reply) in transcript.recipients where !(200..<300).contains(reply.code) { rejected[address] = reply.text }
        if transcript.recipients.count == recipients.count, accepted.isEmpty, let worst = decidingRefusal() {
            return .failure(refusal(worst, "every recipient was refused"))
        }
        if let data = transcript.dataReply, data.code != 354 {
            return .failure(refusal(data, "the server refused DATA"))
        }
        if let final = transcript.finalReply {
            guard (200..<300).contains(final.code) else { return .failure(refusal(final, "the server refused the message")) }
            return .success(SMTPReceipt(accepted: accepted, rejected: rejected, reply: final.text))
        }
        if curlCode == CURLE_OK.rawValue {
            // libcurl succeeded without a reply we could read: trust its result code.
            return .success(SMTPReceipt(accepted: accepted.isEmpty ? recipients : accepted, rejected: rejected, reply: "250"))
        }
        if transcript.bodyComplete, transcript.dataReply?.code == 354 {
            return .failure(EmailError(.unknownOutcome, "no reply after the message's end (\(curlMessage)): it may have been delivered"))
        }
        if [CURLE_PEER_FAILED_VERIFICATION, CURLE_SSL_CACERT_BADFILE, CURLE_SSL_CONNECT_ERROR].map(\.rawValue).contains(curlCode) {
            // Retried as a connection failure: a certificate is renewed or a cafile fixed without losing the mail.
            return .failure(EmailError(.connection, "SMTP TLS failed, nothing sent (\(curlMessage)): the server's certificate must chain to the system's CAs or to cafile= in CONVEYOR_SMTP_URL and name its host"))
        }
        if curlCode == CURLE_USE_SSL_FAILED.rawValue {
            return .failure(EmailError(.connection, "SMTP: the server offered no STARTTLS and starttls=required, nothing sent (\(curlMessage))"))
        }
        if curlCode == CURLE_LOGIN_DENIED.rawValue {
            return .failure(EmailError(.temporary, "SMTP authentication failed (\(curlMessage)); check CONVEYOR_SMTP_URL"))
        }
        return .failure(EmailError(.connection, "SMTP: \(curlMessage)"))
    }

    /// With every recipient refused: a 4xx among them makes it worth trying again, otherwise 5xx.
    private func decidingRefusal() -> SMTPTranscript.Reply? {
        let replies = transcript.recipients.map(\.reply)
        return replies.first { (400..<500).contains($0.code) } ?? replies.first
    }

    private func refusal(_ reply: SMTPTranscript.Reply, _ what: String) -> EmailError {
        let code: EmailError.Code = reply.code >= 500 ? .permanent : .temporary
        return EmailError(code, "\(what): \(reply.text)", reply: reply.text)
    }
}
