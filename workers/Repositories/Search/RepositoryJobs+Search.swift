import Conveyor

extension RepositoryJobs {
    /// The family `repos.search` (and `repos.index`) belong to, as `conveyor-worker --families` takes it.
    public static let reposFamily = "repos"
    /// Task name.
    public static let reposSearch = "repos.search"

    /// Registers `repos.search(repository, query, ref=null, regex=false, ignore_case=false,
    /// path=null, limit=100)` → `{commit, matches: [{path, line, text, ranges}], files_matched,
    /// truncated, took_ms}`.
    public static func registerSearch(into registry: inout TaskRegistry, service: SearchService) {
        registry.register(reposSearch, defaults: TaskDefaults(retry: retry)) { context in
            let repository = try context.argument(0, "repository", as: String.self)
            let query = try context.argument(1, "query", as: String.self)
            let ref = try optional(context, 2, "ref", as: String.self)
            let regex = try optional(context, 3, "regex", as: Bool.self) ?? false
            let ignoreCase = try optional(context, 4, "ignore_case", as: Bool.self) ?? false
            let path = try optional(context, 5, "path", as: String.self)
            let limit = try optional(context, 6, "limit", as: Int.self) ?? 100
            let request = try SearchRequest(query: query, regex: regex, ignoreCase: ignoreCase, path: path, limit: limit)
            return try await service.search(repository: repository, request, ref: ref).json
        }
    }
}
