import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// An RFC 5322 message: headers, then one text part or a multipart/alternative of text and
/// HTML, each UTF-8 in quoted-printable or base64.
struct MessageBuilder {
    var from: EmailAddress
    var to: [EmailAddress]
    var replyTo: EmailAddress?
    var subject: String
    var messageID: String
    var date: Date
    /// Extra headers, names and values already checked (`EmailRequest`).
    var headers: [(name: String, value: String)] = []
    var text: String
    var html: String?

    /// The message as sent, CRLF line endings.
    func build() -> [UInt8] {
        var lines: [String] = []
        lines.append("From: " + HeaderEncoding.mailbox(from))
        lines.append("To: " + to.map(HeaderEncoding.mailbox).joined(separator: ",\r\n "))
        if let replyTo { lines.append("Reply-To: " + HeaderEncoding.mailbox(replyTo)) }
        lines.append("Subject: " + HeaderEncoding.unstructured(subject))
        lines.append("Date: " + Self.rfc5322Date(date))
        lines.append("Message-ID: " + messageID)
        for header in headers { lines.append("\(header.name): " + HeaderEncoding.unstructured(header.value)) }
        lines.append("MIME-Version: 1.0")
        if let html {
            // The boundary cannot occur in quoted-printable or base64 output ("=_" is never written).
            let boundary = "=_conveyor_" + String(messageID.utf8.reduce(UInt64(14_695_981_039_346_656_037)) { ($0 ^ UInt64($1)) &* 1_099_511_628_211 },
                                                  radix: 36)
            lines.append("Content-Type: multipart/alternative; boundary=\"\(boundary)\"")
            lines.append("")
            lines.append("--" + boundary)
            lines += Self.part(text, type: "text/plain")
            lines.append("--" + boundary)
            lines += Self.part(html, type: "text/html")
            lines.append("--" + boundary + "--")
            lines.append("")
        } else {
            lines += Self.part(text, type: "text/plain")
        }
        return Array(lines.joined(separator: "\r\n").utf8)
    }

    /// A part's headers, a blank line and its encoded body.
    private static func part(_ body: String, type: String) -> [String] {
        // Text is canonical with CRLF line breaks before either encoding (RFC 2045 §6.8).
        var bytes: [UInt8] = []
        bytes.reserveCapacity(body.utf8.count + body.utf8.count / 32)
        var previous: UInt8 = 0
        for byte in body.utf8 {
            if byte == 0x0A, previous != 0x0D { bytes.append(0x0D) }
            bytes.append(byte)
            previous = byte
        }
        let encoding = BodyEncoding.choose(for: bytes)
        return ["Content-Type: \(type); charset=utf-8", "Content-Transfer-Encoding: \(encoding.rawValue)", "", encoding.encode(bytes)]
    }

    /// `Sat, 05 Dec 2026 10:41:41 +0000` (UTC; written by hand: no formatter to share between threads).
    static func rfc5322Date(_ date: Date) -> String {
        var seconds = time_t(date.timeIntervalSince1970.rounded(.down))
        var parts = tm()
        gmtime_r(&seconds, &parts)
        let days = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"]
        let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
        func two(_ value: Int32) -> String { value < 10 ? "0\(value)" : "\(value)" }
        return "\(days[Int(parts.tm_wday) % 7]), \(two(parts.tm_mday)) \(months[Int(parts.tm_mon) % 12]) \(parts.tm_year + 1900) "
            + "\(two(parts.tm_hour)):\(two(parts.tm_min)):\(two(parts.tm_sec)) +0000"
    }
}
