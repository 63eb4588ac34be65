/// One file of an indexed commit, as the search sees it.
public struct SnapshotFile: Sendable, Hashable {
    /// What the index did with the file.
    public enum Kind: Sendable, Hashable {
        /// Indexed: its trigrams answer queries and its content is in the index.
        case text
        /// Binary as `git grep -I` decides it (a NUL byte in the first 8,000 bytes): never matches.
        case binary
        /// Text too large to index (over the index's per-file limit): not in the trigram
        /// postings, so every query must read and verify it (`content` reads it from git).
        case tooLarge
    }

    /// Path from the repository root, bytes as git stores them.
    public var path: [UInt8]
    /// Blob id (hex).
    public var blob: String
    /// Size in bytes.
    public var size: Int
    public var kind: Kind

    public init(path: [UInt8], blob: String, size: Int, kind: Kind) {
        self.path = path
        self.blob = blob
        self.size = size
        self.kind = kind
    }
}

/// A searchable view of one commit of one repository: its regular files in path byte order
/// (the order `git grep` prints in), which of them may match a trigram query, and their content.
///
/// `repos.index` publishes snapshots (a manifest naming immutable segments); `repos.search`
/// reads them. A snapshot stays valid while it is used, even if a newer one is published.
public protocol IndexSnapshot: Sendable {
    /// The repository's name under the root.
    var repository: String { get }
    /// The commit indexed (hex).
    var commit: String { get }
    /// Every regular file and executable of the commit (symlinks and submodules excluded, as
    /// `git grep` skips them), in byte order of `path`.
    var files: [SnapshotFile] { get }
    /// Indices into `files`, ascending, of the files that may match `query`: every `.tooLarge`
    /// file is included, no `.binary` file is.
    func candidates(_ query: TrigramQuery) -> [Int]
    /// The content of `files[index]` (for `.tooLarge` files read through git).
    func content(_ index: Int) async throws -> [UInt8]
}
