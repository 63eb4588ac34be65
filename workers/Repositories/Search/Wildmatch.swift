#if canImport(Glibc)
import Glibc
#endif

/// git's `wildmatch` without `WM_PATHNAME`, the mode plain pathspecs use: `*` and `?` match `/`
/// too, `[...]` is a bracket expression (`!` or `^` negates, ranges, `[:class:]`), `\` quotes the
/// next byte. Bytes compare exactly (no case folding).
enum Wildmatch {
    static func matches(_ pattern: ArraySlice<UInt8>, _ text: ArraySlice<UInt8>) -> Bool {
        var p = pattern.startIndex
        var t = text.startIndex
        // Where to resume after the last `*`: the pattern after it, and the text it swallowed up to.
        var star: (pattern: Int, text: Int)?
        while t < text.endIndex {
            if p < pattern.endIndex {
                switch pattern[p] {
                case UInt8(ascii: "*"):
                    while p < pattern.endIndex && pattern[p] == UInt8(ascii: "*") { p += 1 }
                    if p == pattern.endIndex { return true }
                    star = (p, t)
                    continue
                case UInt8(ascii: "?"):
                    p += 1
                    t += 1
                    continue
                case UInt8(ascii: "["):
                    guard let (matched, next) = bracket(pattern, p, text[t]) else { return false }
                    if matched {
                        p = next
                        t += 1
                        continue
                    }
                default:
                    var literal = p
                    if pattern[p] == UInt8(ascii: "\\") && p + 1 < pattern.endIndex { literal = p + 1 }
                    if pattern[literal] == text[t] {
                        p = literal + 1
                        t += 1
                        continue
                    }
                }
            }
            guard let resume = star else { return false }
            star = (resume.pattern, resume.text + 1)
            p = resume.pattern
            t = resume.text + 1
        }
        while p < pattern.endIndex && pattern[p] == UInt8(ascii: "*") { p += 1 }
        return p == pattern.endIndex
    }

    /// Matches `byte` against the bracket expression at `start`; nil when it is not closed (git
    /// then matches nothing), else whether it matched and the index after the `]`.
    static func bracket(_ pattern: ArraySlice<UInt8>, _ start: Int, _ byte: UInt8) -> (Bool, Int)? {
        var p = start + 1
        var negated = false
        if p < pattern.endIndex && (pattern[p] == UInt8(ascii: "!") || pattern[p] == UInt8(ascii: "^")) {
            negated = true
            p += 1
        }
        var matched = false
        var first = true
        while p < pattern.endIndex {
            var low = pattern[p]
            if low == UInt8(ascii: "]") && !first { return (matched != negated, p + 1) }
            first = false
            if low == UInt8(ascii: "[") && p + 1 < pattern.endIndex && pattern[p + 1] == UInt8(ascii: ":") {
                guard let end = classEnd(pattern, p + 2) else { return nil }
                if Self.inClass(String(decoding: pattern[(p + 2)..<end], as: UTF8.self), byte) { matched = true }
                p = end + 2
                continue
            }
            if low == UInt8(ascii: "\\") && p + 1 < pattern.endIndex {
                p += 1
                low = pattern[p]
            }
            if p + 2 < pattern.endIndex && pattern[p + 1] == UInt8(ascii: "-") && pattern[p + 2] != UInt8(ascii: "]") {
                var high = pattern[p + 2]
                p += 3
                if high == UInt8(ascii: "\\") && p < pattern.endIndex {
                    high = pattern[p]
                    p += 1
                }
                if low <= byte && byte <= high { matched = true }
                continue
            }
            if low == byte { matched = true }
            p += 1
        }
        return nil
    }

    private static func classEnd(_ pattern: ArraySlice<UInt8>, _ from: Int) -> Int? {
        var index = from
        while index + 1 < pattern.endIndex {
            if pattern[index] == UInt8(ascii: ":") && pattern[index + 1] == UInt8(ascii: "]") { return index }
            index += 1
        }
        return nil
    }

    private static func inClass(_ name: String, _ byte: UInt8) -> Bool {
        let c = Int32(byte)
        switch name {
        case "alnum": return isalnum(c) != 0
        case "alpha": return isalpha(c) != 0
        case "blank": return byte == 0x20 || byte == 0x09
        case "cntrl": return iscntrl(c) != 0
        case "digit": return isdigit(c) != 0
        case "graph": return isgraph(c) != 0
        case "lower": return islower(c) != 0
        case "print": return isprint(c) != 0
        case "punct": return ispunct(c) != 0
        case "space": return isspace(c) != 0
        case "upper": return isupper(c) != 0
        case "xdigit": return isxdigit(c) != 0
        default: return false
        }
    }
}
