#if canImport(Glibc)
import Glibc
#endif

/// A POSIX extended regular expression compiled by glibc's `regcomp`, with the flags `git grep -E`
/// uses (`REG_EXTENDED | REG_NEWLINE`, plus `REG_ICASE` for `-i`), in the C locale pinned for
/// each call: git runs under `LC_ALL=C`, so matching is bytewise and case folding ASCII only.
/// Using git's own engine makes results agree with `git grep` by construction.
final class PosixRegex: @unchecked Sendable {
    // regex_t is used by one search at a time (each search compiles its own).
    private let compiled: UnsafeMutablePointer<regex_t>
    private let locale: locale_t

    /// - Throws: `.invalidArgument` (permanent) with regcomp's message for an invalid pattern.
    init(_ pattern: [UInt8], ignoreCase: Bool) throws {
        // Character classes, case folding and ranges come from LC_CTYPE and LC_COLLATE.
        guard let locale = newlocale(1 << LC_CTYPE | 1 << LC_COLLATE, "C", nil) else {
            throw RepositoryError(.gitFailed, "the C locale could not be opened")
        }
        // Stored properties are set only once compiled: a failed init must not run deinit.
        let compiled = UnsafeMutablePointer<regex_t>.allocate(capacity: 1)
        let flags = REG_EXTENDED | REG_NEWLINE | (ignoreCase ? REG_ICASE : 0)
        let previous = uselocale(locale)
        let status = (pattern + [0]).withUnsafeBufferPointer { buffer in
            buffer.withMemoryRebound(to: CChar.self) { regcomp(compiled, $0.baseAddress, flags) }
        }
        var message = [CChar](repeating: 0, count: 256)
        if status != 0 { regerror(status, compiled, &message, message.count) }
        uselocale(previous)
        guard status == 0 else {
            compiled.deallocate()
            freelocale(locale)
            let text = String(decoding: message.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            throw RepositoryError(.invalidArgument, "invalid regular expression \(quoted(String(decoding: pattern, as: UTF8.self))): \(text)")
        }
        self.compiled = compiled
        self.locale = locale
    }

    deinit {
        regfree(compiled)
        compiled.deallocate()
        freelocale(locale)
    }

    /// The leftmost match in `base[0..<count]` (treated as the whole subject, as git's
    /// `regexec_buf` does with `REG_STARTEND`), or nil.
    /// - Parameter notBOL: `^` does not match at the start (`REG_NOTBOL`).
    func firstMatch(_ base: UnsafePointer<UInt8>, count: Int, notBOL: Bool) -> (start: Int, end: Int)? {
        var match = regmatch_t(rm_so: 0, rm_eo: regoff_t(count))
        let previous = uselocale(locale)
        defer { uselocale(previous) }
        let status = base.withMemoryRebound(to: CChar.self, capacity: max(count, 1)) { pointer in
            regexec(compiled, pointer, 1, &match, REG_STARTEND | (notBOL ? REG_NOTBOL : 0))
        }
        guard status == 0, match.rm_so >= 0, match.rm_eo >= match.rm_so else { return nil }
        return (Int(match.rm_so), Int(match.rm_eo))
    }
}
