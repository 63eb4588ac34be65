extension JSON {
    /// How to print JSON.
    public enum Style: Sendable {
        /// Exactly as Python's `json.dumps(value)` with default arguments: `", "` and `": "`
        /// separators and every non-ASCII character as `\uXXXX`. Celery's wire format.
        case python
        /// No spaces, UTF-8 kept as is: for logs and `--json` output.
        case compact
    }

    /// The serialized bytes.
    public func serialized(_ style: Style = .python) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(64)
        JSONWriter.write(self, style: style, into: &out)
        return out
    }

    /// The serialized text.
    public func text(_ style: Style = .python) -> String {
        String(decoding: serialized(style), as: UTF8.self)
    }
}

enum JSONWriter {
    private static let hex: [UInt8] = Array("0123456789abcdef".utf8)

    static func write(_ value: JSON, style: JSON.Style, into out: inout [UInt8]) {
        switch value {
        case .null: out.append(contentsOf: [0x6E, 0x75, 0x6C, 0x6C])
        case let .bool(b): out.append(contentsOf: b ? Array("true".utf8) : Array("false".utf8))
        case let .int(v): appendInteger(v, into: &out)
        case let .bigInt(digits): out.append(contentsOf: digits.utf8)
        case let .double(d): appendDouble(d, into: &out)
        case let .string(s): writeString(s, ascii: style == .python, into: &out)
        case let .array(items):
            out.append(UInt8(ascii: "["))
            for (index, item) in items.enumerated() {
                if index > 0 { appendSeparator(style, into: &out) }
                write(item, style: style, into: &out)
            }
            out.append(UInt8(ascii: "]"))
        case let .object(object):
            out.append(UInt8(ascii: "{"))
            var first = true
            for (key, member) in object {
                if !first { appendSeparator(style, into: &out) }
                first = false
                writeString(key, ascii: style == .python, into: &out)
                out.append(UInt8(ascii: ":"))
                if style == .python { out.append(0x20) }
                write(member, style: style, into: &out)
            }
            out.append(UInt8(ascii: "}"))
        }
    }

    private static func appendSeparator(_ style: JSON.Style, into out: inout [UInt8]) {
        out.append(UInt8(ascii: ","))
        if style == .python { out.append(0x20) }
    }

    private static func appendInteger(_ value: Int64, into out: inout [UInt8]) {
        if value >= 0 && value < 10 {
            out.append(UInt8(ascii: "0") + UInt8(value))
            return
        }
        out.append(contentsOf: String(value).utf8)
    }

    private static func appendDouble(_ value: Double, into out: inout [UInt8]) {
        if value.isNaN {
            out.append(contentsOf: "NaN".utf8)
        } else if value.isInfinite {
            out.append(contentsOf: (value < 0 ? "-Infinity" : "Infinity").utf8)
        } else {
            out.append(contentsOf: finiteText(value).utf8)
        }
    }

    /// A finite float as Python's `float.__repr__` writes it. Swift's `description` agrees on the
    /// shortest round-trip digits and on exponent notation below 1e-4, but switches to exponent
    /// notation from 2^53 where Python waits until 1e16; the doubles in between are whole numbers,
    /// so their digits are written out positionally.
    static func finiteText(_ value: Double) -> String {
        let text = value.description
        guard abs(value) < 1e16, let e = text.firstIndex(of: "e"),
              let exponent = Int(text[text.index(after: e)...]), exponent >= 0 else { return text }
        let mantissa = text[..<e]
        var digits = String(mantissa.filter { $0 != "-" && $0 != "." })
        guard digits.count <= exponent + 1 else { return text }
        digits += String(repeating: "0", count: exponent + 1 - digits.count)
        return (mantissa.hasPrefix("-") ? "-" : "") + digits + ".0"
    }

    static func writeString(_ string: String, ascii: Bool, into out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        var string = string
        string.withUTF8 { utf8 in
            // Fast path: printable ASCII without quotes or backslashes goes out as is.
            var plain = true
            for byte in utf8 where byte < 0x20 || byte == 0x22 || byte == 0x5C || byte >= 0x7F {
                plain = false
                break
            }
            if plain {
                out.append(contentsOf: utf8)
                return
            }
            if !ascii {
                for byte in utf8 {
                    if byte < 0x20 || byte == 0x22 || byte == 0x5C {
                        appendEscaped(UInt32(byte), into: &out)
                    } else {
                        out.append(byte)
                    }
                }
                return
            }
            for scalar in String(decoding: utf8, as: UTF8.self).unicodeScalars {
                let v = scalar.value
                if v >= 0x20 && v < 0x7F && v != 0x22 && v != 0x5C {
                    out.append(UInt8(v))
                } else if v > 0xFFFF {
                    let shifted = v - 0x10000
                    appendUnicodeEscape(0xD800 + (shifted >> 10), into: &out)
                    appendUnicodeEscape(0xDC00 + (shifted & 0x3FF), into: &out)
                } else {
                    appendEscaped(v, into: &out)
                }
            }
        }
        out.append(UInt8(ascii: "\""))
    }

    private static func appendEscaped(_ v: UInt32, into out: inout [UInt8]) {
        switch v {
        case 0x22: out.append(contentsOf: [0x5C, 0x22])
        case 0x5C: out.append(contentsOf: [0x5C, 0x5C])
        case 0x0A: out.append(contentsOf: [0x5C, UInt8(ascii: "n")])
        case 0x0D: out.append(contentsOf: [0x5C, UInt8(ascii: "r")])
        case 0x09: out.append(contentsOf: [0x5C, UInt8(ascii: "t")])
        case 0x08: out.append(contentsOf: [0x5C, UInt8(ascii: "b")])
        case 0x0C: out.append(contentsOf: [0x5C, UInt8(ascii: "f")])
        default: appendUnicodeEscape(v, into: &out)
        }
    }

    private static func appendUnicodeEscape(_ v: UInt32, into out: inout [UInt8]) {
        out.append(contentsOf: [0x5C, UInt8(ascii: "u"),
                                hex[Int((v >> 12) & 0xF)], hex[Int((v >> 8) & 0xF)],
                                hex[Int((v >> 4) & 0xF)], hex[Int(v & 0xF)]])
    }
}
