@testable import Email
import Foundation
import Testing

/// The pieces of the message and the transport, without a server: quoted-printable, encoded
/// words, addresses, the SMTP URL, and reading replies from libcurl's transcript.
@Suite("email.send: encodings, addresses, SMTP URL, replies")
struct EncodingTests {
    @Test("quoted-printable: escapes =, 8-bit and a leading dot, keeps lines at most 76, CRLF line breaks")
    func quotedPrintable() {
        let text = "a=b é\n.dot\ntrailing space \n" + String(repeating: "x", count: 200)
        let encoded = BodyEncoding.quotedPrintable(Array(text.utf8))
        #expect(encoded.hasPrefix("a=3Db =C3=A9\r\n=2Edot\r\ntrailing space=20\r\n"))
        #expect(encoded.components(separatedBy: "\r\n").allSatisfy { $0.count <= 76 })
        #expect(!encoded.replacingOccurrences(of: "\r\n", with: "").contains("\n"))
    }

    @Test("encoded words split between characters, never inside one; ASCII stays as it is")
    func encodedWords() {
        #expect(HeaderEncoding.unstructured("Plain subject") == "Plain subject")
        let words = HeaderEncoding.encodedWords(String(repeating: "日本", count: 30))
        #expect(words.count > 1)
        #expect(words.allSatisfy { $0.count <= 75 && $0.hasPrefix("=?UTF-8?B?") && $0.hasSuffix("?=") })
        let decoded = words.map { word -> String in
            let base64 = word.dropFirst("=?UTF-8?B?".count).dropLast(2)
            return String(decoding: Data(base64Encoded: String(base64)) ?? Data(), as: UTF8.self)
        }
        #expect(decoded.joined() == String(repeating: "日本", count: 30))
        #expect(HeaderEncoding.displayName("Doe, Jane") == "\"Doe, Jane\"")
    }

    @Test("addresses: name and address parsed, domain lowercased; injection and bad forms refused")
    func addresses() throws {
        let address = try EmailAddress(parsing: "\"Jane Doe\" <Jane.Doe+tag@Example.COM>", role: "to")
        #expect(address.address == "Jane.Doe+tag@Example.COM" && address.name == "Jane Doe" && address.domain == "example.com")
        for bad in ["", "@example.com", "a@", "a@-x.com", "a..b@example.com", ".a@example.com", "a@exa mple.com", "a b@example.com",
                    "a@example.com\r\n", "\u{7}a@example.com", "Zoë@example.com", String(repeating: "a", count: 65) + "@example.com",
                    "\"Eve\\\" <x@y.z>\" <a@example.com>"] {
            #expect(throws: EmailError.self, "\(bad)") { try EmailAddress(parsing: bad, role: "to") }
        }
    }

    @Test("SMTP URLs: smtp, STARTTLS required, smtps; user and password decoded; the password never shown")
    func endpoints() throws {
        let plain = try SMTPEndpoint(url: "smtp://127.0.0.1:2525")
        #expect(plain.security == .none && plain.port == 2525 && plain.user == nil)
        let tls = try SMTPEndpoint(url: "smtp://mailer:s%40cret@mail.example.com:587?starttls=required")
        #expect(tls.security == .startTLS && tls.user == "mailer" && tls.password == "s@cret")
        #expect(tls.description == "smtp://mailer:***@mail.example.com:587?starttls=required")
        #expect(tls.curlURL == "smtp://mail.example.com:587")
        #expect(try SMTPEndpoint(url: "smtps://u:p@mail.example.com:465").security == .implicitTLS)
        for bad in ["http://x:25", "smtp://host", "smtp://host:0", "smtp://host:70000", "smtp://host:25/path", "smtp://host:25?tls=1",
                    "smtps://host:465?starttls=required", "smtp://ho st:25"] {
            #expect(throws: EmailError.self, "\(bad)") { try SMTPEndpoint(url: bad) }
        }
        do {
            _ = try SMTPEndpoint(url: "smtp://user:topsecret@host")
            Issue.record("a URL without a port was accepted")
        } catch let error as EmailError {
            #expect(!error.message.contains("topsecret"))
        }
    }

    @Test("the transcript pairs each RCPT with its reply, reads multi-line replies, and the reply after the final dot")
    func transcript() {
        let transcript = SMTPTranscript()
        transcript.received("220 hello\r\n")
        transcript.sent("EHLO host\r\n")
        transcript.received("250-host\r\n250-SIZE 10\r\n250 OK\r\n")
        transcript.sent("MAIL FROM:<a@b.c>\r\n")
        transcript.received("250 2.1.0 OK\r\n")
        transcript.sent("RCPT TO:<x@y.z>\r\n")
        transcript.received("550 5.1.1 no")
        transcript.received(" such user\r\n")
        transcript.sent("RCPT TO:<w@y.z>\r\n")
        transcript.received("250 2.1.5 OK\r\n")
        transcript.sent("DATA\r\n")
        transcript.received("354 go ahead\r\n")
        transcript.received("250 2.0.0 queued as 42\r\n")
        #expect(transcript.sessionFailure == nil)
        #expect(transcript.recipients.map(\.address) == ["x@y.z", "w@y.z"])
        #expect(transcript.recipients.map(\.reply.text) == ["550 5.1.1 no such user", "250 2.1.5 OK"])
        #expect(transcript.dataReply?.code == 354)
        #expect(transcript.finalReply == .init(code: 250, text: "250 2.0.0 queued as 42"))
        let verdict = SMTPVerdict(transcript: transcript, curlCode: 0, curlMessage: "", recipients: ["x@y.z", "w@y.z"]).outcome
        guard case let .success(receipt) = verdict else {
            Issue.record("not a success: \(verdict)")
            return
        }
        #expect(receipt == SMTPReceipt(accepted: ["w@y.z"], rejected: ["x@y.z": "550 5.1.1 no such user"], reply: "250 2.0.0 queued as 42"))
    }
}

extension EncodingTests {
    @Test("the Date header is RFC 5322 in UTC")
    func dateHeader() {
        #expect(MessageBuilder.rfc5322Date(Date(timeIntervalSince1970: 1_796_467_301)) == "Sat, 05 Dec 2026 10:41:41 +0000")
        #expect(MessageBuilder.rfc5322Date(Date(timeIntervalSince1970: 0)) == "Thu, 01 Jan 1970 00:00:00 +0000")
    }
}
