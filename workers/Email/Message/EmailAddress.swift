/// A mailbox as `email.send` accepts it: `user@example.com` or `Name <user@example.com>`.
///
/// The address itself must be ASCII (a dot-atom local part of at most 64 bytes, a domain of
/// letter-digit-hyphen labels, at most 254 bytes in all); the display name may be any UTF-8
/// without control characters (it is RFC 2047 encoded when not ASCII).
public struct EmailAddress: Sendable, Hashable, CustomStringConvertible {
    /// `user@example.com`.
    public let address: String
    /// The display name, when given.
    public let name: String?

    /// The domain, lowercased (what per-domain limits are keyed by).
    public var domain: String { String(address[address.index(after: address.lastIndex(of: "@") ?? address.startIndex)...]).lowercased() }

    /// - Parameter role: the argument it came from, for the error (`to`, `from`, `reply_to`).
    /// - Throws: `EmailError.Code.invalidInput` saying what is wrong.
    public init(parsing text: String, role: String) throws {
        func refuse(_ why: String) -> EmailError { EmailError(.invalidInput, "\(role): \(why): \(Self.shown(text))") }
        if text.unicodeScalars.contains(where: { $0 == "\r" || $0 == "\n" }) {
            throw refuse("CR or LF in an address (header injection)")
        }
        guard !text.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) else {
            throw refuse("control characters in an address")
        }
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        var name: String?
        var address = trimmed
        if trimmed.hasSuffix(">"), let open = trimmed.lastIndex(of: "<") {
            address = String(trimmed[trimmed.index(after: open)..<trimmed.index(before: trimmed.endIndex)])
            var display = trimmed[..<open].trimmingCharacters(in: .whitespaces)
            if display.count >= 2, display.hasPrefix("\""), display.hasSuffix("\"") { display = String(display.dropFirst().dropLast()) }
            guard !display.contains("\"") && !display.contains("\\") else { throw refuse("quotes or backslashes in a display name") }
            name = display.isEmpty ? nil : display
        }
        guard let at = address.lastIndex(of: "@") else { throw refuse("not an address (no @)") }
        let local = address[..<at]
        let domain = address[address.index(after: at)...]
        guard address.utf8.count <= 254 else { throw refuse("longer than 254 bytes") }
        guard !local.isEmpty, local.utf8.count <= 64, local.allSatisfy(Self.isAtomText) || local == ".",
              !local.hasPrefix("."), !local.hasSuffix("."), !local.contains("..") else {
            throw refuse("invalid local part")
        }
        let labels = domain.split(separator: ".", omittingEmptySubsequences: false)
        guard !domain.isEmpty, labels.allSatisfy({ label in
            !label.isEmpty && label.utf8.count <= 63 && !label.hasPrefix("-") && !label.hasSuffix("-")
                && label.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-") }
        }) else {
            throw refuse("invalid domain")
        }
        self.address = address
        self.name = name
    }

    public var description: String { name.map { "\($0) <\(address)>" } ?? address }

    /// RFC 5322 `atext`.
    private static func isAtomText(_ character: Character) -> Bool {
        character.isASCII && (character.isLetter || character.isNumber || "!#$%&'*+/=?^_`{|}~-.".contains(character))
    }

    /// The input for an error message: at most 200 characters, line breaks shown.
    static func shown(_ text: String) -> String {
        let escaped = text.prefix(200).replacingOccurrences(of: "\r", with: "\\r").replacingOccurrences(of: "\n", with: "\\n")
        return "'\(escaped)'"
    }
}
