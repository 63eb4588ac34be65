import Conveyor

extension RepositoryJobs {
    /// Task name.
    public static let reposIndex = "repos.index"
    /// How long the per-repository lock is leased for (renewed every third of it while the run lasts;
    /// a run deferred behind it comes back within this long).
    static let indexLease: Duration = .seconds(10)

    /// As `retry`, and index files that could not be written (a full disk may be emptied) retry too.
    public static let indexRetry = RetryPolicy(maxRetries: 2, base: 1, cap: 10) { error in
        if let error = error as? IndexError { return error.code == .fileSystem }
        return (error as? RepositoryError).map { !$0.isPermanent } ?? false
    }

    /// Registers `repos.index(repository, ref="HEAD")`: indexes the commit `ref` names, holding
    /// the repository's lock for the whole run (a second run for the same repository is deferred
    /// until the first ends), and reporting progress as blobs done of blobs in the commit.
    public static func registerIndex(into registry: inout TaskRegistry, service: IndexService) {
        registry.register(reposIndex, defaults: TaskDefaults(retry: indexRetry)) { context in
            let repository = try context.argument(0, "repository", as: String.self)
            let ref = try optional(context, 1, "ref", as: String.self) ?? "HEAD"
            // Bad names and refs fail before any lock is taken.
            _ = try service.index.repositories.root.locate(repository)
            _ = try RefName.validate(ref, role: "ref")
            return try await context.withLock(indexLockName(repository), lease: indexLease, whenBusy: .deferRun()) { _ in
                let result = try await service.index(repository: repository, ref: ref, logger: context.logger) { done, total in
                    try await context.progress(done: done, total: total)
                }
                return result.json
            }
        }
    }

    /// `repos.index:<name>`; a name too long for a lock name (512 bytes) is replaced by its FNV-1a hash.
    static func indexLockName(_ repository: String) -> String {
        let name = "repos.index:" + repository
        guard name.utf8.count > 512 else { return name }
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in repository.utf8 { hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3 }
        return "repos.index:#" + String(hash, radix: 16)
    }
}
