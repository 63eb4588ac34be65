/// A commit of a repository held in memory for search: its regular files and executables with
/// their content, and the folded trigrams of each text file. Searches use one when no index
/// exists for the repository or the commit asked for is not the indexed one; tests and the
/// benchmark use it in place of an index.
public final class MemorySnapshot: IndexSnapshot {
    public let repository: String
    public let commit: String
    public let files: [SnapshotFile]
    /// Content of each text file (binary files keep none).
    private let contents: [[UInt8]]
    private let postings: TrigramPostings

    /// Largest commit read into memory, in bytes of files, by default.
    public static let defaultMaxBytes = 1 << 30

    /// Builds the snapshot of files given in any order.
    /// - Parameter files: path (bytes from the root), blob id and content of each file.
    public init(repository: String, commit: String, files: [(path: [UInt8], blob: String, content: [UInt8])]) {
        let sorted = files.sorted { $0.path.lexicographicallyPrecedes($1.path) }
        var entries: [SnapshotFile] = []
        var contents: [[UInt8]] = []
        var text: [Int] = []
        for (index, file) in sorted.enumerated() {
            let binary = file.content.withUnsafeBufferPointer(LineScanner.isBinary)
            entries.append(SnapshotFile(path: file.path, blob: file.blob, size: file.content.count, kind: binary ? .binary : .text))
            contents.append(binary ? [] : file.content)
            if !binary { text.append(index) }
        }
        self.repository = repository
        self.commit = commit
        self.files = entries
        self.contents = contents
        postings = TrigramPostings(contents, indexed: text)
    }

    /// Reads `commit` of `repository` through its `cat-file` process: the tree listed, every
    /// regular file and executable (modes 100644 and 100755; symlinks and submodules are
    /// skipped, as `git grep` skips them) read.
    /// - Parameters:
    ///   - commit: a full commit id (resolved by the caller).
    ///   - maxBytes: a bound on the files' total size; past it, `.invalidArgument`.
    public static func read(_ repository: GitRepository, commit: String, maxBytes: Int = defaultMaxBytes) async throws -> MemorySnapshot {
        let entries = try await repository.objects.listTree(commit).filter { $0.mode == "100644" || $0.mode == "100755" }
        var files: [(path: [UInt8], blob: String, content: [UInt8])] = []
        files.reserveCapacity(entries.count)
        var total = 0
        var pending = entries[...]
        try await repository.objects.read(entries.map(\.id)) { info, bytes in
            guard let entry = pending.popFirst() else {
                throw RepositoryError(.gitFailed, "cat-file answered more objects than asked for")
            }
            total += bytes.count
            guard total <= maxBytes else {
                throw RepositoryError(.invalidArgument, "commit \(commit) of \(quoted(repository.location.name)) holds more than \(maxBytes) bytes of files; index it to search it")
            }
            files.append((entry.path, info.id, Array(bytes)))
        }
        return MemorySnapshot(repository: repository.location.name, commit: commit, files: files)
    }

    public func candidates(_ query: TrigramQuery) -> [Int] {
        postings.evaluate(query).map(Int.init)
    }

    public func content(_ index: Int) async throws -> [UInt8] {
        guard contents.indices.contains(index) else {
            throw RepositoryError(.invalidArgument, "no file \(index) in the snapshot of \(commit)")
        }
        return contents[index]
    }
}
