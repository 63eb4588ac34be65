/// Where `repos.search` finds the latest indexed snapshot of a repository (the index family's
/// store conforms to it).
public protocol IndexSnapshotProvider: Sendable {
    /// The most recent snapshot published for `repository`, or nil when it was never indexed.
    func latestSnapshot(repository: String) async throws -> (any IndexSnapshot)?
}

/// The last few commits read into memory for search, by (repository, commit); a commit asked
/// for while it is being read is read once, its callers share the result.
actor MemorySnapshotCache {
    private let capacity: Int
    private var entries: [(key: String, task: Task<MemorySnapshot, any Error>)] = []

    /// - Parameter capacity: snapshots kept (at least 1).
    init(capacity: Int) { self.capacity = max(1, capacity) }

    func snapshot(_ repository: GitRepository, commit: String, maxBytes: Int) async throws -> MemorySnapshot {
        let key = "\(repository.location.gitDirectory)\n\(commit)"
        let task: Task<MemorySnapshot, any Error>
        if let index = entries.firstIndex(where: { $0.key == key }) {
            let entry = entries.remove(at: index)
            entries.append(entry)
            task = entry.task
        } else {
            task = Task { try await MemorySnapshot.read(repository, commit: commit, maxBytes: maxBytes) }
            entries.append((key, task))
            if entries.count > capacity { entries.removeFirst() }
        }
        do {
            return try await task.value
        } catch {
            // A failed read is not kept: the next search tries again.
            entries.removeAll { $0.key == key && $0.task == task }
            throw error
        }
    }
}
