import Conveyor

/// Computes `repos.search`: picks the snapshot to search (the latest indexed one, or the commit
/// asked for read into memory), asks it for the files the query's trigram plan allows, and
/// verifies each against the pattern as `git grep -n -I` would, in path order, up to the limit
/// or the deadline.
public struct SearchService: Sendable {
    public let repositories: RepositoryPool
    /// The index's snapshots; nil searches every commit from memory.
    public var index: (any IndexSnapshotProvider)?
    /// How long one search may verify files before it answers what it found, `truncated`.
    public var deadline: Duration
    /// A bound on the bytes of a commit read into memory when it is not indexed.
    public var maxSnapshotBytes: Int
    private let memory: MemorySnapshotCache

    /// - Parameters:
    ///   - index: where indexed snapshots come from (nil: none exist).
    ///   - deadline: time a search may take verifying files (negative is taken as zero).
    ///   - cachedSnapshots: commits kept in memory for searches the index cannot answer.
    ///   - maxSnapshotBytes: largest commit, in bytes of files, read into memory.
    public init(repositories: RepositoryPool, index: (any IndexSnapshotProvider)? = nil, deadline: Duration = .seconds(10),
                cachedSnapshots: Int = 4, maxSnapshotBytes: Int = MemorySnapshot.defaultMaxBytes) {
        self.repositories = repositories
        self.index = index
        self.deadline = max(deadline, .zero)
        self.maxSnapshotBytes = max(0, maxSnapshotBytes)
        memory = MemorySnapshotCache(capacity: cachedSnapshots)
    }

    /// Searches `repository` at `ref` (nil: the latest indexed commit, or HEAD when none is).
    /// - Throws: `RepositoryError`: permanent for bad names, refs, patterns and arguments.
    public func search(repository name: String, _ request: SearchRequest, ref: String? = nil) async throws -> SearchResult {
        let started = ContinuousClock.now
        let matcher = try PatternMatcher(request)
        let plan = QueryPlanner.plan(request)
        let repository = try repositories.repository(name)
        let snapshot = try await snapshot(repository, name: name, ref: ref)
        let stopAt = started + deadline
        var result = try await Self.verify(snapshot, plan: plan, matcher: matcher, request: request, stopAt: stopAt)
        result.tookMilliseconds = Int((ContinuousClock.now - started) / .milliseconds(1))
        return result
    }

    /// The snapshot `ref` names: the index's when it is the commit indexed, else one read into memory.
    public func snapshot(_ repository: GitRepository, name: String, ref: String?) async throws -> any IndexSnapshot {
        let latest = try await index?.latestSnapshot(repository: name)
        if ref == nil, let latest { return latest }
        let commit = try await repository.resolveCommit(ref ?? "HEAD", role: "ref").commit
        if let latest, latest.commit == commit { return latest }
        return try await memory.snapshot(repository, commit: commit, maxBytes: maxSnapshotBytes)
    }

    /// Verifies the files of `snapshot` the plan allows, in path order.
    static func verify(_ snapshot: any IndexSnapshot, plan: TrigramQuery, matcher: PatternMatcher, request: SearchRequest,
                       stopAt: ContinuousClock.Instant) async throws -> SearchResult {
        var result = SearchResult(commit: snapshot.commit, matches: [], filesMatched: 0, truncated: false, tookMilliseconds: 0)
        let files = snapshot.files
        for index in snapshot.candidates(plan) {
            guard files.indices.contains(index) else {
                throw RepositoryError(.corruptRepository, "the index of \(snapshot.repository) names file \(index) of \(files.count)")
            }
            let file = files[index]
            guard file.kind != .binary, request.path?.matches(file.path) ?? true else { continue }
            if ContinuousClock.now >= stopAt {
                result.truncated = true
                break
            }
            let content = try await snapshot.content(index)
            var hits = 0
            let finished = content.withUnsafeBufferPointer { buffer -> Bool in
                if LineScanner.isBinary(buffer) { return true }
                return LineScanner.scan(buffer, matcher, shouldStop: { ContinuousClock.now >= stopAt }) { hit in
                    guard result.matches.count < request.limit else { return false }
                    result.matches.append(.init(path: file.path, line: hit.number, text: hit.text, ranges: hit.ranges.map { [$0.start, $0.end] }))
                    hits += 1
                    return true
                }
            }
            if hits > 0 { result.filesMatched += 1 }
            if !finished {
                result.truncated = true
                break
            }
        }
        return result
    }
}
