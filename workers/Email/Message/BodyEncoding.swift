import Foundation

/// How a text part's body is written on the wire.
enum BodyEncoding: String, Sendable {
    case quotedPrintable = "quoted-printable"
    case base64

    /// Quoted-printable for mostly-ASCII text (readable in the raw message), base64 when more
    /// than a fifth of the bytes would need escaping (shorter).
    static func choose(for bytes: [UInt8]) -> BodyEncoding {
        let escaped = bytes.reduce(0) { $0 + ($1 >= 0x80 ? 1 : 0) }
        return escaped * 5 > bytes.count ? .base64 : .quotedPrintable
    }

    /// `bytes` encoded, CRLF line endings, lines at most 76 characters.
    func encode(_ bytes: [UInt8]) -> String {
        switch self {
        case .base64:
            return Data(bytes).base64EncodedString(options: [.lineLength76Characters, .endLineWithCarriageReturn, .endLineWithLineFeed])
        case .quotedPrintable:
            return Self.quotedPrintable(bytes)
        }
    }

    /// RFC 2045 quoted-printable: text line breaks (LF or CRLF) become CRLF; `=`, bytes outside
    /// printable ASCII and whitespace before a line break are escaped; soft breaks keep lines
    /// at most 76 characters. A leading `.` is escaped too, so no line can look like the end of
    /// the SMTP data whatever the transport does.
    static func quotedPrintable(_ bytes: [UInt8]) -> String {
        var output = ""
        var line = ""
        func emit(_ token: String) {
            if line.count + token.count > 75 {
                output += line + "=\r\n"
                line = ""
            }
            line += token
        }
        let hex = Array("0123456789ABCDEF")
        func escaped(_ byte: UInt8) -> String { "=" + String(hex[Int(byte >> 4)]) + String(hex[Int(byte & 0xF)]) }
        var index = 0
        while index < bytes.count {
            let byte = bytes[index]
            if byte == 0x0A || (byte == 0x0D && index + 1 < bytes.count && bytes[index + 1] == 0x0A) {
                output += line + "\r\n"
                line = ""
                index += byte == 0x0D ? 2 : 1
                continue
            }
            let atLineEnd = index + 1 == bytes.count || bytes[index + 1] == 0x0A || bytes[index + 1] == 0x0D
            let plain = (byte >= 33 && byte <= 126 && byte != 0x3D) || ((byte == 0x20 || byte == 0x09) && !atLineEnd)
            if plain && !(byte == 0x2E && line.isEmpty) {
                emit(String(UnicodeScalar(byte)))
            } else {
                emit(escaped(byte))
            }
            index += 1
        }
        output += line
        return output
    }
}
