import Foundation

/// RFC 2047 encoded words for header text that is not ASCII, and folding to keep lines short.
enum HeaderEncoding {
    /// `text` as it may appear in an unstructured header: itself when printable ASCII, else
    /// `=?UTF-8?B?…?=` words (each at most 75 characters, split between characters, never inside one).
    static func unstructured(_ text: String) -> String {
        guard text.unicodeScalars.allSatisfy({ $0.isASCII && $0.value >= 0x20 && $0.value < 0x7f }) else {
            return encodedWords(text).joined(separator: "\r\n ")
        }
        return fold(text)
    }

    /// A display name: an encoded word when not ASCII, quoted when it holds specials.
    static func displayName(_ name: String) -> String {
        guard name.unicodeScalars.allSatisfy({ $0.isASCII && $0.value >= 0x20 && $0.value < 0x7f }) else {
            return encodedWords(name).joined(separator: " ")
        }
        let specials = "()<>[]:;@\\,.\""
        return name.contains(where: { specials.contains($0) }) ? "\"\(name)\"" : name
    }

    /// A mailbox for From, To, Reply-To.
    static func mailbox(_ address: EmailAddress) -> String {
        address.name.map { "\(displayName($0)) <\(address.address)>" } ?? address.address
    }

    /// Base64 encoded words of at most 45 bytes of UTF-8 each (60 characters of base64).
    static func encodedWords(_ text: String) -> [String] {
        var words: [String] = []
        var chunk: [UInt8] = []
        for character in text {
            let bytes = Array(String(character).utf8)
            if chunk.count + bytes.count > 45, !chunk.isEmpty {
                words.append("=?UTF-8?B?\(Data(chunk).base64EncodedString())?=")
                chunk = []
            }
            chunk += bytes
        }
        if !chunk.isEmpty || words.isEmpty { words.append("=?UTF-8?B?\(Data(chunk).base64EncodedString())?=") }
        return words
    }

    /// Folds ASCII text at spaces so that lines stay under 78 characters where it can.
    static func fold(_ text: String, firstLineUsed: Int = 12) -> String {
        var lines: [String] = []
        var line: String?
        var limit = 78 - firstLineUsed
        for word in text.split(separator: " ", omittingEmptySubsequences: false) {
            guard let current = line else {
                line = String(word)
                continue
            }
            if !current.trimmingCharacters(in: .whitespaces).isEmpty, !word.isEmpty, current.count + 1 + word.count > limit {
                lines.append(current)
                line = String(word)
                limit = 77
            } else {
                line = current + " " + word
            }
        }
        lines.append(line ?? "")
        return lines.joined(separator: "\r\n ")
    }
}
