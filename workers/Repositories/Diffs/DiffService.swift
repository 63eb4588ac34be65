import Conveyor
import Foundation
import Logging
import Synchronization

/// Computes `diffs.compute`: resolves both refs to commits, asks the repository's
/// `diff-tree --stdin` for the patch, parses it into files and hunks, and caches the result by
/// (repository, resolved commits, options, limits).
///
/// Computed once however many ask at once: callers in this process join one run
/// (`DiffFlight`); across the fleet, the run holds a lock named after the key (when the caller
/// gives `locks`), and whoever waited for that lock finds the result in the cache.
public struct DiffService: Sendable {
    public let repositories: RepositoryPool
    public var limits: DiffLimits
    public var cache: (any DiffCache)?
    /// Seconds a cached diff lives.
    public var cacheTTL: Int
    public var flight: any DiffFlight
    /// Told when a run waits for another worker's run of the same diff (tests watch it).
    var onWaitingForFleet: (@Sendable () -> Void)?
    /// Diffs computed by this service (not answered from the cache).
    let computed = ComputedCount()

    public init(repositories: RepositoryPool, limits: DiffLimits = DiffLimits(), cache: (any DiffCache)? = nil,
                cacheTTL: Int = 86_400, flight: any DiffFlight = LocalDiffFlight()) {
        self.repositories = repositories
        self.limits = limits
        self.cache = cache
        self.cacheTTL = cacheTTL
        self.flight = flight
    }

    /// The diff from `base` to `head` in `repository`, as `diffs.compute` returns it.
    /// - Parameters:
    ///   - locks: the fleet's locks (a task passes `context.locks`): a run holds the diff's lock,
    ///     so other workers asking for the same diff wait for it and read the cache; nil computes
    ///     without asking the fleet.
    ///   - logger: where a failing cache is reported (it never fails the diff).
    public func compute(repository name: String, base: String, head: String, options: DiffOptions = DiffOptions(),
                        locks: Locks? = nil, logger: Logger? = nil) async throws -> JSON {
        guard DiffOptions.contexts.contains(options.context) else {
            throw RepositoryError(.invalidArgument, "context must be \(DiffOptions.contexts.lowerBound) to \(DiffOptions.contexts.upperBound), not \(options.context)")
        }
        let repository = try repositories.repository(name)
        let resolved = try await repository.resolveCommits([(base, "base"), (head, "head")])
        let (from, to) = (resolved[0], resolved[1])
        // The commits alone decide the diff; the name is there for operators reading keys, and
        // gives way to its hash when the key would be too long for the store.
        let prefix = "diffs:v2:\(from.commit):\(to.commit):\(options.fingerprint):\(limits.fingerprint):"
        let key = prefix.utf8.count + name.utf8.count > KeyValueStore.maxKeyBytes ? prefix + "#" + Self.digest(name) : prefix + name
        if let cached = await cached(key, logger: logger) { return cached }
        let bytes = try await flight.run(key: key) {
            guard let locks, cache != nil else { return try await computeAndStore(repository, from, to, options, key, logger) }
            // Another worker may be computing it: wait for its lock (as long as one git request
            // may take), then the cache has it, unless that run failed.
            onWaitingForFleet?()
            let lockName = "diffs.compute:\(from.commit):\(to.commit):\(Self.digest(key))"
            let lease = Duration.seconds(max(1, repositories.timeout * 2))
            do {
                return try await locks.withLock(lockName, lease: lease, wait: .seconds(repositories.timeout + 5)) { _ in
                    if let hit = await cachedBytes(key, logger: logger) { return hit }
                    return try await computeAndStore(repository, from, to, options, key, logger)
                }
            } catch let error as LockError where error.code == .busy || error.code == .lost {
                // The other run outlived a git request's time, or this one outlived its lease:
                // a diff is worth more than saving one computation.
                logger?.warning("diff lock not held; computing anyway", metadata: ["error": "\(error)"])
            } catch let error as ConveyorError where error.code == .backendUnavailable {
                logger?.warning("diff lock unavailable; computing without it", metadata: ["error": "\(error)"])
            }
            if let hit = await cachedBytes(key, logger: logger) { return hit }
            return try await computeAndStore(repository, from, to, options, key, logger)
        }
        do {
            return try JSON.parse(bytes)
        } catch {
            throw RepositoryError(.gitFailed, "diff result did not parse back: \(error)")
        }
    }

    private func cached(_ key: String, logger: Logger?) async -> JSON? {
        guard let bytes = await cachedBytes(key, logger: logger) else { return nil }
        do {
            return try JSON.parse(bytes)
        } catch {
            logger?.warning("diff cache held a value that does not parse; computing", metadata: ["error": "\(error)"])
            return nil
        }
    }

    private func cachedBytes(_ key: String, logger: Logger?) async -> [UInt8]? {
        guard let cache else { return nil }
        do {
            return try await cache.value(for: key)
        } catch {
            logger?.warning("diff cache read failed; computing", metadata: ["error": "\(error)"])
            return nil
        }
    }

    private func computeAndStore(_ repository: GitRepository, _ from: (commit: String, tree: String), _ to: (commit: String, tree: String),
                                 _ options: DiffOptions, _ key: String, _ logger: Logger?) async throws -> [UInt8] {
        var diff = try await repository.diff(from: from.tree, to: to.tree, options: options, limits: limits)
        try await Self.measureBinaries(&diff, in: repository)
        computed.add()
        let bytes = Self.result(diff, base: from.commit, head: to.commit).serialized(.compact)
        do {
            try await cache?.store(bytes, for: key, ttl: cacheTTL)
        } catch {
            logger?.warning("diff cache store failed", metadata: ["error": "\(error)"])
        }
        return bytes
    }

    /// Sizes of binary files' blobs, in one round trip to `cat-file`.
    static func measureBinaries(_ diff: inout ParsedDiff, in repository: GitRepository) async throws {
        let ids = diff.files.filter(\.binary).flatMap { [$0.oldBlob, $0.blob].compactMap { $0 } }
        guard !ids.isEmpty else { return }
        var sizes: [String: Int] = [:]
        for case let info? in try await repository.objects.info(ids) { sizes[info.id] = info.size }
        for index in diff.files.indices where diff.files[index].binary {
            diff.files[index].oldSize = diff.files[index].oldBlob.flatMap { sizes[$0] }
            diff.files[index].size = diff.files[index].blob.flatMap { sizes[$0] }
        }
    }

    /// FNV-1a of the key, so a lock name stays short however long the repository's name is.
    static func digest(_ key: String) -> String {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in key.utf8 { hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3 }
        return String(hash, radix: 16)
    }

    static func result(_ diff: ParsedDiff, base: String, head: String) -> JSON {
        var object: JSONObject = [
            "base": .string(base), "head": .string(head),
            "files": .array(diff.files.map(\.json)),
            "stats": ["files": .int(Int64(diff.changedFiles)), "additions": .int(Int64(diff.additions)),
                      "deletions": .int(Int64(diff.deletions))],
        ]
        if let text = String(validating: diff.patch, as: UTF8.self) {
            object["patch"] = .string(text)
            object["patch_encoding"] = "utf-8"
        } else {
            // Not text in UTF-8 (e.g. Latin-1 sources): base64 keeps it byte-exact.
            object["patch"] = .string(Data(diff.patch).base64EncodedString())
            object["patch_encoding"] = "base64"
        }
        object["truncated"] = .bool(diff.truncated)
        return .object(object)
    }
}

/// A counter shared by copies of a `DiffService`.
final class ComputedCount: Sendable {
    private let count = Atomic<Int>(0)
    func add() { count.add(1, ordering: .relaxed) }
    var value: Int { count.load(ordering: .relaxed) }
}
