/// Python's `repr()` of JSON values, for Celery's `argsrepr`/`kwargsrepr` headers (what
/// Flower, events and logs show), truncated like Celery's `saferepr` to `limit` characters.
enum PythonRepr {
    static func arguments(_ args: [JSON], limit: Int = 1024) -> String {
        var out = "("
        for (index, arg) in args.enumerated() {
            if index > 0 { out += ", " }
            append(arg, to: &out)
            if out.count > limit { break }
        }
        if args.count == 1 { out += "," }
        out += ")"
        return truncate(out, limit)
    }

    static func keywords(_ kwargs: JSONObject, limit: Int = 1024) -> String {
        truncate(repr(.object(kwargs)), limit)
    }

    static func repr(_ value: JSON) -> String {
        var out = ""
        append(value, to: &out)
        return out
    }

    private static func truncate(_ text: String, _ limit: Int) -> String {
        text.count <= limit ? text : String(text.prefix(limit - 3)) + "..."
    }

    private static func append(_ value: JSON, to out: inout String) {
        switch value {
        case .null: out += "None"
        case let .bool(b): out += b ? "True" : "False"
        case let .int(v): out += String(v)
        case let .bigInt(digits): out += digits
        case let .double(d):
            if d.isNaN { out += "nan" } else if d.isInfinite { out += d < 0 ? "-inf" : "inf" } else { out += d.description }
        case let .string(s): appendString(s, to: &out)
        case let .array(items):
            out += "["
            for (index, item) in items.enumerated() {
                if index > 0 { out += ", " }
                append(item, to: &out)
            }
            out += "]"
        case let .object(object):
            out += "{"
            for (index, member) in object.enumerated() {
                if index > 0 { out += ", " }
                appendString(member.key, to: &out)
                out += ": "
                append(member.value, to: &out)
            }
            out += "}"
        }
    }

    private static func appendString(_ s: String, to out: inout String) {
        let quote: Character = s.contains("'") && !s.contains("\"") ? "\"" : "'"
        out.append(quote)
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if Character(scalar) == quote {
                    out += "\\\(quote)"
                } else if scalar.value < 0x20 || scalar.value == 0x7F {
                    let hex = String(scalar.value, radix: 16)
                    out += "\\x" + (hex.count < 2 ? "0" + hex : hex)
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        out.append(quote)
    }
}
