/// RFC 3986 percent-decoding for the user, password, virtual host and query values of broker and
/// Redis URLs: one decoder, so the AMQP and Redis parsers read the same text the same way.
///
/// A `%` not followed by two hex digits (`p%zzw`), or escapes that decode to bytes which are not
/// UTF-8 (`%FF`), are refused rather than kept literally, as Python's `unquote` would keep
/// them. The text is usually a password, and a password that silently means something other
/// than what was typed only shows up later as a refused login whose cause the redacted logs
/// cannot show; a refusal names the part of the URL at fault at once. A literal `%` is `%25`.
public enum PercentDecoding {
    /// Why a text could not be decoded. The description never quotes the text, which may be a
    /// password.
    public enum Failure: Error, Sendable, Hashable, CustomStringConvertible {
        /// A `%` not followed by two hex digits.
        case invalidEscape
        /// The decoded bytes are not UTF-8.
        case notUTF8

        public var description: String {
            switch self {
            case .invalidEscape: return "a '%' not followed by two hex digits (write a literal '%' as %25)"
            case .notUTF8: return "percent-escapes that do not decode to UTF-8"
            }
        }
    }

    /// `text` with every `%XX` escape replaced by its byte; everything else kept as it is
    /// (`+` stays `+`: these are URL parts, not form data).
    /// - Parameter text: the encoded text.
    /// - Throws: `Failure` for an invalid escape or a result that is not UTF-8.
    public static func decode<S: StringProtocol>(_ text: S) throws(Failure) -> String {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(text.utf8.count)
        var iterator = text.utf8.makeIterator()
        while let byte = iterator.next() {
            guard byte == UInt8(ascii: "%") else {
                bytes.append(byte)
                continue
            }
            guard let high = iterator.next().flatMap(Self.hexValue), let low = iterator.next().flatMap(Self.hexValue) else {
                throw .invalidEscape
            }
            bytes.append(high << 4 | low)
        }
        guard let decoded = String(validating: bytes, as: UTF8.self) else { throw .notUTF8 }
        return decoded
    }

    private static func hexValue(_ c: UInt8) -> UInt8? {
        switch c {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return c - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return c - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return c - UInt8(ascii: "A") + 10
        default: return nil
        }
    }
}
