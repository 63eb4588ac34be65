/// Python's `repr()` of an exception as Celery's client rebuilds it from a stored result, for
/// messages that quote one the way Python would (`ChordError("Dependency <id> raised
/// ValueError('boom')")`).
extension ExceptionInfo {
    /// Celery's `celery.exceptions.ChordError`.
    static func chordError(_ message: String) -> ExceptionInfo {
        ExceptionInfo(type: "ChordError", module: "celery.exceptions", message: message)
    }

    /// `ValueError('boom')` for a stored exception; other values as Celery's saferepr prints them.
    static func pythonRepr(of result: JSON) -> String {
        guard let info = ExceptionInfo(json: result) else { return PythonRepr.value(result) }
        return info.type + "(" + info.arguments.map(pythonRepr(argument:)).joined(separator: ", ") + ")"
    }

    private static func pythonRepr(argument: JSON) -> String {
        guard case let .string(text) = argument else { return PythonRepr.value(argument) }
        return pythonStringRepr(text)
    }

    /// Python's `repr(str)`: single quotes unless the text holds `'` and no `"`; backslash,
    /// the quote, `\t \n \r` escaped; characters Python does not print as `\xNN`, `\uNNNN` or
    /// `\UNNNNNNNN`.
    static func pythonStringRepr(_ text: String) -> String {
        let quote: Character = text.contains("'") && !text.contains("\"") ? "\"" : "'"
        var out = String(quote)
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\\": out += "\\\\"
            case "\t": out += "\\t"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case _ where Character(scalar) == quote: out += "\\" + String(quote)
            case _ where !isPrintable(scalar):
                let hex = String(scalar.value, radix: 16)
                let width = scalar.value <= 0xFF ? 2 : scalar.value <= 0xFFFF ? 4 : 8
                let prefix = width == 2 ? "\\x" : width == 4 ? "\\u" : "\\U"
                out += prefix + String(repeating: "0", count: width - hex.count) + hex
            default: out.unicodeScalars.append(scalar)
            }
        }
        out.append(quote)
        return out
    }

    /// Python's `str.isprintable()` for one character: not a control, format, surrogate,
    /// private-use, unassigned or separator character, except the ASCII space.
    private static func isPrintable(_ scalar: Unicode.Scalar) -> Bool {
        if scalar == " " { return true }
        switch scalar.properties.generalCategory {
        case .control, .format, .surrogate, .privateUse, .unassigned, .spaceSeparator, .lineSeparator, .paragraphSeparator:
            return false
        default:
            return true
        }
    }
}
