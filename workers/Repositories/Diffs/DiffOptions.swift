/// How a diff is computed: the arguments of `diffs.compute` beside the repository and refs.
public struct DiffOptions: Sendable, Hashable {
    /// The line-matching algorithms git offers.
    public enum Algorithm: String, Sendable, CaseIterable {
        case histogram, myers, patience, minimal

        var flag: String {
            switch self {
            case .histogram: "--histogram"
            case .myers: "--diff-algorithm=myers"
            case .patience: "--patience"
            case .minimal: "--minimal"
            }
        }
    }

    /// Accepted context sizes (`-U`).
    public static let contexts = 0...10_000

    /// Lines of context around each change (`-U`).
    public var context: Int
    /// Detect renames (`-M`).
    public var renames: Bool
    public var algorithm: Algorithm

    public init(context: Int = 3, renames: Bool = true, algorithm: Algorithm = .histogram) {
        self.context = context
        self.renames = renames
        self.algorithm = algorithm
    }

    /// `diff-tree` flags beyond the fixed ones; the same flags make `git diff` print the same patch.
    var gitFlags: [String] {
        [algorithm.flag, "-U\(context)", renames ? "-M" : "--no-renames"]
    }

    /// A short stable text for cache keys.
    var fingerprint: String { "U\(context).\(renames ? "M" : "noM").\(algorithm.rawValue)" }
}

/// How much of a diff is shown in full; GitHub's published defaults. Past a file's limit only its
/// counts are given (`collapsed`); past the diff's, the remaining files are collapsed too, and
/// past `maxFiles` they are left out of `files` (still counted in `stats`).
public struct DiffLimits: Sendable, Hashable {
    public var maxFiles: Int
    public var maxLines: Int
    public var maxBytes: Int
    public var maxFileLines: Int
    public var maxFileBytes: Int

    public init(maxFiles: Int = 300, maxLines: Int = 20_000, maxBytes: Int = 1_000_000,
                maxFileLines: Int = 20_000, maxFileBytes: Int = 500_000) {
        self.maxFiles = maxFiles
        self.maxLines = maxLines
        self.maxBytes = maxBytes
        self.maxFileLines = maxFileLines
        self.maxFileBytes = maxFileBytes
    }

    var fingerprint: String { "\(maxFiles).\(maxLines).\(maxBytes).\(maxFileLines).\(maxFileBytes)" }
}
