import Synchronization

/// Open repositories by name, each with its git processes, the least recently used closed when
/// more than `capacity` are open.
public final class RepositoryPool: Sendable {
    public let root: RepositoryRoot
    let environment: GitEnvironment
    /// Seconds one git request may take before its process is killed.
    public let timeout: Double
    private let capacity: Int
    private let open = Mutex<[(gitDirectory: String, repository: GitRepository)]>([])

    /// - Parameters:
    ///   - root: where repositories live.
    ///   - timeout: seconds per git request (above 0).
    ///   - capacity: repositories kept open (each holds up to 1 + 4 git processes).
    public init(root: RepositoryRoot, environment: GitEnvironment, timeout: Double = 30, capacity: Int = 16) {
        self.root = root
        self.environment = environment
        self.timeout = timeout.isFinite && timeout > 0 ? timeout : 30
        self.capacity = max(1, capacity)
    }

    /// The repository at `name` (validated), opened on first use.
    public func repository(_ name: String) throws -> GitRepository {
        let location = try root.locate(name)
        let (repository, evicted) = open.withLock { open -> (GitRepository, GitRepository?) in
            if let index = open.firstIndex(where: { $0.gitDirectory == location.gitDirectory }) {
                let entry = open.remove(at: index)
                open.append(entry)
                return (entry.repository, nil)
            }
            let evicted = open.count >= capacity ? open.removeFirst().repository : nil
            let repository = GitRepository(location: location, environment: environment, timeout: timeout)
            open.append((location.gitDirectory, repository))
            return (repository, evicted)
        }
        evicted?.close()
        return repository
    }

    /// Stops every git process.
    public func close() {
        let all = open.withLock { open in
            defer { open.removeAll() }
            return open
        }
        for entry in all { entry.repository.close() }
    }
}
