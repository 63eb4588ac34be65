import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// The search side's way in: the latest published snapshot of a repository, opened once and
/// kept until its manifest is replaced.
public final class SearchIndex: Sendable {
    public let store: IndexStore
    public let repositories: RepositoryPool
    private let cache = Mutex<[String: (stamp: [Int], snapshot: IndexedSnapshot)]>([:])

    public init(store: IndexStore, repositories: RepositoryPool) {
        self.store = store
        self.repositories = repositories
    }

    /// The snapshot of the commit last indexed for `repository`, or nil when it was never
    /// indexed. - Throws: `RepositoryError` for a bad name, `IndexError` for a damaged index.
    public func snapshot(repository name: String) throws -> (any IndexSnapshot)? {
        try indexedSnapshot(repository: name)
    }

    /// The same, as the concrete type.
    public func indexedSnapshot(repository name: String) throws -> IndexedSnapshot? {
        _ = try repositories.root.locate(name)
        // A manifest replaced while its segments were being mapped, and a segment then
        // collected, is read again: the newer manifest names segments that exist.
        var lastError: (any Error)?
        for _ in 0..<3 {
            guard let stamp = stamp(store.manifestPath(name)) else { return nil }
            if let cached = cache.withLock({ $0[name] }), cached.stamp == stamp { return cached.snapshot }
            do {
                guard let manifest = try store.manifest(for: name) else { return nil }
                let segments = try manifest.segments.map { try store.segment($0) }
                let repositories = self.repositories
                let snapshot = try IndexedSnapshot(manifest: manifest, segments: segments) { blob in
                    try await repositories.repository(name).objects.content(of: blob).1
                }
                cache.withLock { $0[name] = (stamp, snapshot) }
                return snapshot
            } catch {
                lastError = error
            }
        }
        throw lastError ?? IndexError(.fileSystem, "the index of \(name) could not be opened")
    }

    /// Identifies one version of a file: inode, size, modification time (a rename brings a new inode).
    private func stamp(_ path: String) -> [Int]? {
        var info = stat()
        guard stat(path, &info) == 0 else { return nil }
        return [Int(info.st_ino), Int(info.st_size), Int(info.st_mtim.tv_sec), Int(info.st_mtim.tv_nsec)]
    }
}
