import Synchronization

/// One repository's long-lived git processes: a `cat-file` for objects and names, and one
/// `diff-tree --stdin` per set of diff options in use (a few at most; the least recently used
/// goes when more are needed).
public final class GitRepository: Sendable {
    public let location: RepositoryRoot.Location
    /// Objects and names, through `cat-file --batch-command`.
    public let objects: ObjectReader
    let objectProcess: GitProcess
    private let environment: GitEnvironment
    private let timeout: Double
    private let diffProcesses = Mutex<[(options: DiffOptions, process: GitProcess)]>([])

    /// Diff processes kept per repository.
    static let maxDiffProcesses = 4

    init(location: RepositoryRoot.Location, environment: GitEnvironment, timeout: Double) {
        self.location = location
        self.environment = environment
        self.timeout = timeout
        objectProcess = GitProcess(label: "cat-file", environment: environment, gitDirectory: location.gitDirectory,
                                   workingDirectory: location.gitDirectory, command: ["cat-file", "--batch-command", "--buffer"])
        objects = ObjectReader(process: objectProcess, timeout: timeout)
    }

    /// A commit's id and its tree's, for a name the caller gave (validated here).
    /// - Throws: `.invalidRef` or `.unknownRevision`, naming `role`.
    public func resolveCommit(_ ref: String, role: String) async throws -> (commit: String, tree: String) {
        try await resolveCommits([(ref, role)])[0]
    }

    /// Several refs resolved in one round trip to `cat-file`, each to its commit and tree ids.
    /// - Parameter refs: (name, role) pairs; the role names the ref in errors ("base", "head").
    public func resolveCommits(_ refs: [(ref: String, role: String)]) async throws -> [(commit: String, tree: String)] {
        var names: [String] = []
        for (ref, role) in refs {
            let name = try RefName.validate(ref, role: role)
            names += ["\(name)^{commit}", "\(name)^{tree}"]
        }
        let found = try await objects.info(names)
        return try refs.enumerated().map { index, item in
            guard let commit = found[2 * index], commit.type == "commit", let tree = found[2 * index + 1], tree.type == "tree" else {
                throw RepositoryError(.unknownRevision, "\(item.role) \(quoted(item.ref)) names no commit in \(quoted(location.name))")
            }
            return (commit.id, tree.id)
        }
    }

    /// The diff of two trees, parsed, limits applied.
    func diff(from base: String, to head: String, options: DiffOptions, limits: DiffLimits) async throws -> ParsedDiff {
        let process = diffProcess(options)
        let input = Array("\(base) \(head)\n".utf8) + DiffResponse.sentinel + [UInt8(ascii: "\n")]
        return try await process.request(input, timeout: timeout, DiffResponse(limits: limits))
    }

    func diffProcess(_ options: DiffOptions) -> GitProcess {
        let (process, evicted) = diffProcesses.withLock { processes -> (GitProcess, GitProcess?) in
            if let index = processes.firstIndex(where: { $0.options == options }) {
                let entry = processes.remove(at: index)
                processes.append(entry)
                return (entry.process, nil)
            }
            let evicted = processes.count >= Self.maxDiffProcesses ? processes.removeFirst().process : nil
            let command = ["diff-tree", "--stdin", "-r", "--raw", "-p", "--no-color", "--no-ext-diff", "--no-textconv"] + options.gitFlags
            let process = GitProcess(label: "diff-tree", environment: environment, gitDirectory: location.gitDirectory,
                                     workingDirectory: location.gitDirectory, command: command)
            processes.append((options, process))
            return (process, evicted)
        }
        // Stopped after a request in flight on it ends.
        evicted?.terminate()
        return process
    }

    /// Stops every git process of this repository.
    public func close() {
        objectProcess.terminate()
        let processes = diffProcesses.withLock { processes in
            defer { processes.removeAll() }
            return processes
        }
        for entry in processes { entry.process.terminate() }
    }
}

extension GitRepository {
    /// The running `cat-file` child's pid, if one runs (tests kill it to play a crash).
    var objectProcessID: Int32? { objectProcess.pid }
    /// How many `cat-file` children were started so far.
    var objectProcessStarts: Int { objectProcess.starts.load(ordering: .relaxed) }
    /// The running `diff-tree` children's pids.
    var diffProcessIDs: [Int32] { diffProcesses.withLock { $0.map(\.process) }.compactMap(\.pid) }
}
