#if canImport(Glibc)
import Glibc
#endif

/// Finds a search's pattern in bytes the way `git grep` does for the same flags: a fixed string
/// (`-F`, or `-E` with a pattern free of regex syntax, which git also searches as a fixed string)
/// bytewise, folding ASCII letters for `-i`; a regular expression through glibc's regex.
enum PatternMatcher: Sendable {
    case literal(LiteralPattern)
    case regex(PosixRegex)

    /// - Throws: `.invalidArgument` with regcomp's message for an invalid regular expression.
    init(_ request: SearchRequest) throws {
        if request.regex && !FixedPattern.isFixed(request.pattern) {
            self = .regex(try PosixRegex(request.pattern, ignoreCase: request.ignoreCase))
        } else {
            self = .literal(LiteralPattern(request.pattern, ignoreCase: request.ignoreCase))
        }
    }

    /// The leftmost match in `base[0..<count]`, offsets relative to `base`.
    /// - Parameter notBOL: the start is not the beginning of a line (`^` cannot match there).
    func firstMatch(_ base: UnsafePointer<UInt8>, count: Int, notBOL: Bool) -> (start: Int, end: Int)? {
        switch self {
        case .literal(let literal): literal.firstMatch(base, count: count)
        case .regex(let regex): regex.firstMatch(base, count: count, notBOL: notBOL)
        }
    }
}

/// A fixed string found by `memchr` on its rarest-looking byte and a compare around each hit;
/// folded (for `-i`), `memchr` looks for both cases of that byte and the compare folds ASCII.
struct LiteralPattern: Sendable {
    let needle: [UInt8]
    /// Compare folded (only when the needle holds an ASCII letter; otherwise folding changes nothing).
    let folded: Bool
    /// The needle's byte `memchr` looks for, at this offset.
    let anchor: Int

    init(_ needle: [UInt8], ignoreCase: Bool) {
        folded = ignoreCase && needle.contains { Trigram.fold($0) != $0 || ($0 >= 0x61 && $0 <= 0x7A) }
        self.needle = folded ? needle.map(Trigram.fold) : needle
        let ranks = self.needle.map(Self.commonness)
        anchor = ranks.indices.min { ranks[$0] < ranks[$1] } ?? 0
    }

    /// Lower for bytes that are rarer in source code: letters and spaces are common, most
    /// punctuation less so, other bytes rare.
    static func commonness(_ byte: UInt8) -> Int {
        let common = Array(" etaoinsrlhdcumfpgwybvkxjqz_.,;()=\t\n/*-:\"{}<>0123456789".utf8)
        if let rank = common.firstIndex(of: Trigram.fold(byte)) { return common.count - rank }
        return 0
    }

    func firstMatch(_ base: UnsafePointer<UInt8>, count: Int) -> (start: Int, end: Int)? {
        let length = needle.count
        guard count >= length else { return nil }
        return needle.withUnsafeBufferPointer { pattern -> (Int, Int)? in
            guard let start = pattern.baseAddress else { return nil }
            let key = pattern[anchor]
            let other = folded && key >= 0x61 && key <= 0x7A ? key - 0x20 : key
            let last = count - length
            // The next match start whose anchor byte is `byte`, at or after `index` (`Int.max`:
            // none); each is looked for again only once passed, so the scan stays linear.
            func next(_ byte: UInt8, from index: Int) -> Int {
                guard index <= last, let found = memchr(base + index + anchor, Int32(byte), last - index + 1) else { return Int.max }
                return UnsafeRawPointer(found) - UnsafeRawPointer(base) - anchor
            }
            var index = 0
            var nextKey = next(key, from: 0)
            var nextOther = other == key ? Int.max : next(other, from: 0)
            while index <= last {
                if nextKey < index { nextKey = next(key, from: index) }
                if nextOther < index { nextOther = next(other, from: index) }
                let at = min(nextKey, nextOther)
                guard at <= last else { return nil }
                if folded {
                    var offset = 0
                    while offset < length && Trigram.fold(base[at + offset]) == pattern[offset] { offset += 1 }
                    if offset == length { return (at, at + length) }
                } else if memcmp(base + at, start, length) == 0 {
                    return (at, at + length)
                }
                index = at + 1
            }
            return nil
        }
    }
}
