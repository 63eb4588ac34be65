extension SearchIndex: IndexSnapshotProvider {
    /// The latest published snapshot, as `repos.search` asks for it.
    public func latestSnapshot(repository: String) async throws -> (any IndexSnapshot)? {
        try snapshot(repository: repository)
    }
}
