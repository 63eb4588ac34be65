/// Turns what git printed on standard error into a `RepositoryError` a caller can act on.
enum GitFailure {
    private static let corruption = [
        "corrupt", "unable to read", "bad object", "inflate", "invalid object", "packfile", "loose object",
        "missing blob", "missing tree", "bad tree", "malformed", "object file", "broken",
    ]

    static func classify(standardError said: String, fallback: String) -> RepositoryError {
        let lower = said.lowercased()
        let message = said.isEmpty ? fallback : "\(fallback): \(said)"
        if lower.contains("dubious ownership") {
            return RepositoryError(.invalidRepository, "the repository is owned by another user; git refuses to read it (\(said))")
        }
        if lower.contains("not a git repository") {
            return RepositoryError(.repositoryNotFound, "not a git repository: \(said)")
        }
        if corruption.contains(where: lower.contains) {
            return RepositoryError(.corruptRepository, "the repository is corrupt: \(message)")
        }
        return RepositoryError(.gitFailed, message)
    }
}
