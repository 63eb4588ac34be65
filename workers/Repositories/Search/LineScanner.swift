#if canImport(Glibc)
import Glibc
#endif

/// One line of a file that matches, as `git grep -n` prints it.
struct LineHit {
    /// 1-based line number.
    var number: Int
    /// The line's bytes, without its newline (a CR before it stays).
    var text: [UInt8]
    /// Byte offsets in `text` of each match `git grep -o` prints for the line.
    var ranges: [(start: Int, end: Int)]
}

/// Verifies one file's content against a pattern the way `git grep` walks a buffer: search the
/// rest of the whole buffer for the leftmost match (git's look-ahead), take the line holding
/// it, match that line on its own (a regex match found across a newline does not count), and go
/// on from the next line. Lines are only split around hits, so a file without matches costs
/// one pass of the matcher.
enum LineScanner {
    /// `git grep -I` treats a file as binary when a NUL is in its first 8,000 bytes.
    static let binaryProbe = 8_000

    static func isBinary(_ content: UnsafeBufferPointer<UInt8>) -> Bool {
        guard let base = content.baseAddress else { return false }
        return memchr(base, 0, min(content.count, binaryProbe)) != nil
    }

    /// Calls `hit` for each matching line in order until it returns false; returns false when
    /// it was stopped that way, or `shouldStop` said so (checked every few hundred lines).
    static func scan(_ content: UnsafeBufferPointer<UInt8>, _ matcher: PatternMatcher, shouldStop: () -> Bool,
                     hit: (LineHit) -> Bool) -> Bool {
        guard let base = content.baseAddress else { return true }
        let count = content.count
        var position = 0
        var lineNumber = 1
        var visited = 0
        while position < count {
            guard let found = matcher.firstMatch(base + position, count: count - position, notBOL: false) else { break }
            let matchStart = position + found.start
            var lineStart = matchStart
            while lineStart > position && base[lineStart - 1] != UInt8(ascii: "\n") { lineStart -= 1 }
            // A match at the very end, after a final newline, still counts as an empty last line
            // (git's look-ahead lands there, and `^$` matches it).
            lineNumber += newlines(base, from: position, to: lineStart)
            let lineEnd = lineStart == count ? count : memchr(base + lineStart, Int32(UInt8(ascii: "\n")), count - lineStart)
                .map { UnsafeRawPointer($0) - UnsafeRawPointer(base) } ?? count
            if let ranges = lineRanges(base + lineStart, count: lineEnd - lineStart, matcher) {
                let text = Array(UnsafeBufferPointer(start: base + lineStart, count: lineEnd - lineStart))
                if !hit(LineHit(number: lineNumber, text: text, ranges: ranges)) { return false }
            }
            visited += 1
            if visited % 256 == 0 && shouldStop() { return false }
            lineNumber += 1
            position = lineEnd + 1
        }
        return true
    }

    /// The matches `git grep -o` lists for one line, or nil when the line does not match:
    /// leftmost first, each next one searched after the previous end with `REG_NOTBOL`, and the
    /// list stops at an empty match.
    static func lineRanges(_ line: UnsafePointer<UInt8>, count: Int, _ matcher: PatternMatcher) -> [(start: Int, end: Int)]? {
        guard let first = matcher.firstMatch(line, count: count, notBOL: false) else { return nil }
        var ranges: [(start: Int, end: Int)] = []
        var match = first
        var offset = 0
        while match.end > match.start {
            ranges.append((offset + match.start, offset + match.end))
            offset += match.end
            guard let next = matcher.firstMatch(line + offset, count: count - offset, notBOL: true) else { break }
            match = next
        }
        return ranges
    }

    private static func newlines(_ base: UnsafePointer<UInt8>, from start: Int, to end: Int) -> Int {
        var lines = 0
        var index = start
        while index < end, let found = memchr(base + index, Int32(UInt8(ascii: "\n")), end - index) {
            lines += 1
            index = UnsafeRawPointer(found) - UnsafeRawPointer(base) + 1
        }
        return lines
    }
}
