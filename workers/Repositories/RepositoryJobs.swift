import Conveyor
import Logging

/// The repository job families: `diffs.compute` now; `repos.index` and `repos.search` build on
/// the same git layer (`RepositoryPool`, `ObjectReader.listTree`, `ObjectReader.read`).
public enum RepositoryJobs {
    /// Family names, as `conveyor-worker --families` takes them.
    public static let diffsFamily = "diffs"

    /// Task names.
    public static let diffsCompute = "diffs.compute"

    /// Failures retry only when they may not last (git died, took too long); bad names, refs,
    /// missing or corrupt repositories fail at once.
    public static let retry = RetryPolicy(maxRetries: 2, base: 1, cap: 10) { error in
        (error as? RepositoryError).map { !$0.isPermanent } ?? false
    }

    /// Registers `diffs.compute(repository, base, head, context=3, renames=true, algorithm="histogram")`.
    /// - Parameters:
    ///   - sharedCache: when `service` has no cache of its own, cache in the fleet's Redis
    ///     (`KeyValueDiffCache` over the task's `keyValues`).
    public static func registerDiffs(into registry: inout TaskRegistry, service: DiffService, sharedCache: Bool = true) {
        registry.register(diffsCompute, defaults: TaskDefaults(retry: retry)) { context in
            var service = service
            if sharedCache && service.cache == nil { service.cache = KeyValueDiffCache(store: context.keyValues) }
            let repository = try context.argument(0, "repository", as: String.self)
            let base = try context.argument(1, "base", as: String.self)
            let head = try context.argument(2, "head", as: String.self)
            var options = DiffOptions()
            if let value = try optional(context, 3, "context", as: Int.self) { options.context = value }
            if let value = try optional(context, 4, "renames", as: Bool.self) { options.renames = value }
            if let value = try optional(context, 5, "algorithm", as: String.self) {
                guard let algorithm = DiffOptions.Algorithm(rawValue: value) else {
                    throw RepositoryError(.invalidArgument, "algorithm must be one of \(DiffOptions.Algorithm.allCases.map(\.rawValue).joined(separator: ", ")), not \(quoted(value))")
                }
                options.algorithm = algorithm
            }
            return try await service.compute(repository: repository, base: base, head: head, options: options, locks: context.locks, logger: context.logger)
        }
    }

    /// An argument that may be left out or given as null.
    static func optional<T: Decodable>(_ context: TaskContext, _ index: Int, _ keyword: String, as type: T.Type) throws -> T? {
        let given = index < context.args.count ? context.args[index] : context.kwargs[keyword]
        guard let given, !given.isNull else { return nil }
        return try context.argument(index, keyword, as: type)
    }
}
