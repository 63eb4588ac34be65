import Conveyor
import Email
import Foundation
import Testing
import TestSupport

/// The mail `email.send` writes, read back by Python's `email` package: multipart/alternative
/// when there is HTML, RFC 2047 headers, quoted-printable or base64 UTF-8 bodies, a Date, and a
/// Message-ID made from the task id.
@Suite("email.send: the message's shape")
struct MessageShapeTests {
    @Test("text and HTML become multipart/alternative; non-ASCII headers are encoded words; HTML escaping only in the HTML part")
    func multipartWithEncodedHeaders() async throws {
        let harness = try await EmailHarness(label: "mail-shape")
        let handle = try await harness.send([
            "to": ["Zoë Ålund <zoe@example.com>", "bob@example.org"], "template": "welcome",
            "context": ["name": "Zoë <Ann & Bob>", "repo": "acme/web"],
            "reply_to": "Support Team <help@conveyor.test>", "headers": ["X-Campaign": "März launch"],
        ])
        let result = try await handle.get(timeout: hangGuard)
        let received = try await harness.sink.waitForMessages(1)
        try await harness.stop()

        #expect(result["message_id"]?.string == "<\(handle.id)@conveyor.test>")
        #expect(result["accepted"] == ["zoe@example.com", "bob@example.org"])
        #expect(result["rejected"] == [:])
        #expect(result["smtp_reply"]?.string?.hasPrefix("250") == true)
        #expect(received[0]["mail_from"] == "noreply@conveyor.test")
        #expect(received[0]["rcpt_tos"] == ["zoe@example.com", "bob@example.org"])

        let mail = try await ParsedMail.parse(try #require(received[0]["data"]?.string))
        #expect(mail["defects"] == [])
        #expect(mail["content_type"] == "multipart/alternative")
        #expect(mail["mime_version"] == "1.0")
        #expect(mail["date_ok"] == true)
        #expect(mail["message_id"]?.string == "<\(handle.id)@conveyor.test>")
        #expect(mail["subject"] == "Welcome, Zoë <Ann & Bob>!")
        #expect(mail["from_address"] == "noreply@conveyor.test" && mail["from_name"] == "Conveyor")
        #expect(mail["to"] == ["zoe@example.com", "bob@example.org"])
        #expect(mail["to_names"] == ["Zoë Ålund", ""])
        #expect(mail["reply_to"] == "Support Team <help@conveyor.test>")
        #expect(mail["extra"]?["X-Campaign"] == "März launch")
        #expect(mail["bare_lf"] == false)
        #expect((mail["longest_line"]?.int ?? 999) <= 78)
        let parts = try #require(mail["parts"]?.array)
        try #require(parts.count == 2)
        #expect(parts[0]["type"] == "text/plain" && parts[0]["charset"] == "utf-8")
        #expect(parts[0]["encoding"] == "quoted-printable")
        #expect(ParsedMail.body(mail, part: 0) == "Hello Zoë <Ann & Bob>,\n\nYour repository acme/web was indexed.\n.a line that starts with a dot\n")
        #expect(parts[1]["type"] == "text/html")
        #expect(ParsedMail.body(mail, part: 1) == "<p>Hello <b>Zoë &lt;Ann &amp; Bob&gt;</b>, acme/web was indexed.</p>\n")
        // The raw header is an encoded word, not 8-bit text.
        let raw = try #require(received[0]["data"]?.string)
        #expect(raw.contains("Subject: =?UTF-8?B?"))
        #expect(raw.contains("Message-ID: <\(handle.id)@conveyor.test>\r\n"))
    }

    @Test("mostly non-ASCII text goes base64; a text-only template is one text/plain part; a subject argument replaces the template's")
    func base64AndSinglePart() async throws {
        let harness = try await EmailHarness(label: "mail-b64")
        let text = "日本語のテキスト、とても長い行です。" + String(repeating: "データ", count: 40)
        let handle = try await harness.send(["to": "ken@example.jp", "template": "plain", "context": ["n": .string(text)],
                                             "subject": "件名: テスト"])
        _ = try await handle.get(timeout: hangGuard)
        let received = try await harness.sink.waitForMessages(1)
        try await harness.stop()
        let mail = try await ParsedMail.parse(try #require(received[0]["data"]?.string))
        #expect(mail["defects"] == [])
        #expect(mail["content_type"] == "text/plain")
        #expect(mail["subject"] == "件名: テスト")
        #expect(mail["parts"]?[0]?["encoding"] == "base64")
        #expect(ParsedMail.body(mail, part: 0) == "Number \(text).\n")
        #expect((mail["longest_line"]?.int ?? 999) <= 78)
    }
}
