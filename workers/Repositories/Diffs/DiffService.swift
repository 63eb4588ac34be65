import Conveyor
import Foundation
import Logging

/// Computes `diffs.compute`: resolves both refs to commits, asks the repository's
/// `diff-tree --stdin` for the patch, parses it into files and hunks, and caches the result by
/// (repository, resolved commits, options, limits).
public struct DiffService: Sendable {
    public let repositories: RepositoryPool
    public var limits: DiffLimits
    public var cache: (any DiffCache)?
    /// Seconds a cached diff lives.
    public var cacheTTL: Int
    public var flight: any DiffFlight

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
    ///   - logger: where a failing cache is reported (it never fails the diff).
    public func compute(repository name: String, base: String, head: String, options: DiffOptions = DiffOptions(),
                        logger: Logger? = nil) async throws -> JSON {
        guard DiffOptions.contexts.contains(options.context) else {
            throw RepositoryError(.invalidArgument, "context must be \(DiffOptions.contexts.lowerBound) to \(DiffOptions.contexts.upperBound), not \(options.context)")
        }
        let repository = try repositories.repository(name)
        let resolved = try await repository.resolveCommits([(base, "base"), (head, "head")])
        let (from, to) = (resolved[0], resolved[1])
        let key = "conveyor:diffs:v1:\(from.commit):\(to.commit):\(options.fingerprint):\(limits.fingerprint):\(name)"
        if let cached = await cached(key, logger: logger) { return cached }
        let limits = self.limits
        let cache = self.cache
        let ttl = cacheTTL
        let bytes = try await flight.run(key: key) {
            let diff = try await repository.diff(from: from.tree, to: to.tree, options: options, limits: limits)
            let bytes = Self.result(diff, base: from.commit, head: to.commit).serialized(.compact)
            do {
                try await cache?.store(bytes, for: key, ttl: ttl)
            } catch {
                logger?.warning("diff cache store failed", metadata: ["error": "\(error)"])
            }
            return bytes
        }
        do {
            return try JSON.parse(bytes)
        } catch {
            throw RepositoryError(.gitFailed, "diff result did not parse back: \(error)")
        }
    }

    private func cached(_ key: String, logger: Logger?) async -> JSON? {
        guard let cache else { return nil }
        do {
            guard let bytes = try await cache.value(for: key) else { return nil }
            return try JSON.parse(bytes)
        } catch {
            logger?.warning("diff cache read failed; computing", metadata: ["error": "\(error)"])
            return nil
        }
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
