/// One `repos.search` query, validated: the pattern as bytes, how to read it, where to look and
/// how many matching lines to return.
public struct SearchRequest: Sendable, Hashable {
    /// Query length accepted, in bytes.
    public static let queryBytes = 1...1_000
    /// Matching lines one search may return.
    public static let limits = 1...10_000

    /// The pattern's bytes (UTF-8, as git receives it on its command line).
    public var pattern: [UInt8]
    /// A POSIX extended regular expression (`git grep -E`) rather than a fixed string (`-F`).
    public var regex: Bool
    /// ASCII letters match either case (`git grep -i` under `LC_ALL=C`).
    public var ignoreCase: Bool
    /// One git pathspec restricting the files searched, or nil for every file.
    public var path: Pathspec?
    /// Matching lines returned at most.
    public var limit: Int

    /// - Throws: `.invalidArgument` (permanent) for a query that is empty, over 1,000 bytes, or
    ///   holds a NUL or a newline (git would split it into several patterns), a limit outside
    ///   1…10,000, or a pathspec `Pathspec` refuses.
    public init(query: String, regex: Bool = false, ignoreCase: Bool = false, path: String? = nil, limit: Int = 100) throws {
        let bytes = Array(query.utf8)
        guard Self.queryBytes.contains(bytes.count) else {
            throw RepositoryError(.invalidArgument, "query must be \(Self.queryBytes.lowerBound) to \(Self.queryBytes.upperBound) bytes, not \(bytes.count)")
        }
        guard !bytes.contains(0), !bytes.contains(UInt8(ascii: "\n")) else {
            throw RepositoryError(.invalidArgument, "query must be one line without NUL bytes (git grep would split it into several patterns)")
        }
        guard Self.limits.contains(limit) else {
            throw RepositoryError(.invalidArgument, "limit must be \(Self.limits.lowerBound) to \(Self.limits.upperBound), not \(limit)")
        }
        self.pattern = bytes
        self.regex = regex
        self.ignoreCase = ignoreCase
        self.path = try path.map(Pathspec.init)
        self.limit = limit
    }
}
