/// One git pathspec as `git grep PATTERN COMMIT -- PATHSPEC` applies it (no magic): a path that
/// equals it, or lies under it as a directory, matches; so does a path its glob matches, where
/// `*`, `?` and `[...]` match across `/` as they do in git pathspecs (`*.swift` finds
/// `a/b/c.swift`). The part before the first wildcard must match literally, as in git.
public struct Pathspec: Sendable, Hashable {
    /// Longest pathspec accepted, in bytes.
    public static let maxLength = 4_096

    /// The pathspec's bytes.
    public let pattern: [UInt8]
    /// Bytes before the first wildcard (`*?[\`).
    let literalPrefix: Int

    /// - Throws: `.invalidArgument` (permanent) for an empty or overlong pathspec, pathspec magic
    ///   (a leading `:`), one git would read as an option (a leading `-`), an absolute one, one with
    ///   `.` or `..` components, or one holding control characters.
    public init(_ text: String) throws {
        let bytes = Array(text.utf8)
        guard !bytes.isEmpty, bytes.count <= Self.maxLength else {
            throw RepositoryError(.invalidArgument, "path must be 1 to \(Self.maxLength) bytes")
        }
        guard bytes[0] != UInt8(ascii: ":") else {
            throw RepositoryError(.invalidArgument, "path \(quoted(text)) uses pathspec magic (a leading ':'), which search does not accept")
        }
        guard bytes[0] != UInt8(ascii: "-") else {
            throw RepositoryError(.invalidArgument, "path \(quoted(text)) starts with '-'; git would read it as an option")
        }
        guard bytes[0] != UInt8(ascii: "/") else {
            throw RepositoryError(.invalidArgument, "path \(quoted(text)) is absolute; give it relative to the repository's root")
        }
        guard !bytes.contains(where: { $0 < 0x20 || $0 == 0x7F }) else {
            throw RepositoryError(.invalidArgument, "path \(quoted(text)) holds control characters")
        }
        for component in bytes.split(separator: UInt8(ascii: "/"), omittingEmptySubsequences: false).dropLast()
        where component.isEmpty || component.elementsEqual(".".utf8) || component.elementsEqual("..".utf8) {
            throw RepositoryError(.invalidArgument, "path \(quoted(text)) has an empty, '.' or '..' component")
        }
        if let last = bytes.split(separator: UInt8(ascii: "/"), omittingEmptySubsequences: false).last,
           last.elementsEqual(".".utf8) || last.elementsEqual("..".utf8) {
            throw RepositoryError(.invalidArgument, "path \(quoted(text)) has a '.' or '..' component")
        }
        pattern = bytes
        literalPrefix = bytes.firstIndex(where: { Self.wildcards.contains($0) }) ?? bytes.count
    }

    private static let wildcards: Set<UInt8> = [UInt8(ascii: "*"), UInt8(ascii: "?"), UInt8(ascii: "["), UInt8(ascii: "\\")]

    /// Whether git would search the file at `path` (bytes from the repository root).
    public func matches(_ path: [UInt8]) -> Bool {
        let count = pattern.count
        if path.count >= count && path.starts(with: pattern) {
            // The pathspec itself, or a directory above the file.
            if path.count == count || pattern[count - 1] == UInt8(ascii: "/") || path[count] == UInt8(ascii: "/") { return true }
        }
        guard literalPrefix < count, path.count >= literalPrefix, path.starts(with: pattern[..<literalPrefix]) else { return false }
        return Wildmatch.matches(pattern[literalPrefix...], path[literalPrefix...])
    }
}
