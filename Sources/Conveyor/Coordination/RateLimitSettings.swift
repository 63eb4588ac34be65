import Redis

/// Rate limits set at run time (`conveyor limit set|list|clear`), kept in Redis and read by
/// every worker within a second. A run-time limit replaces the task's limit in code
/// (`TaskDefaults.rateLimit`); clearing it brings the one in code back.
public struct RateLimitSettings: Sendable {
    let redis: RedisConnection

    /// Longest task name a limit may be set for, bytes.
    public static let maxTaskName = 200

    /// One stored limit: usable, or what is wrong with what is stored (written by hand, or by a
    /// newer version).
    public struct Entry: Sendable {
        public var task: String
        public var limit: RateLimit?
        public var problem: String?
    }

    public init(client: ConveyorClient) {
        redis = client.redis
    }

    init(redis: RedisConnection) {
        self.redis = redis
    }

    /// Sets `task`'s limit for the whole fleet, replacing any in code or set before.
    /// - Throws: `ConveyorError.Code.invalidArguments` for an empty or oversized task name;
    ///   `backendUnavailable` when Redis does not answer.
    public func set(_ limit: RateLimit, for task: String) async throws {
        try Self.check(task: task)
        try await change(task, Array(Self.json(limit).text(.compact).utf8))
    }

    /// Removes `task`'s run-time limit (its limit in code, if any, applies again).
    /// - Returns: whether there was one.
    /// - Throws: as `set(_:for:)`.
    @discardableResult
    public func clear(task: String) async throws -> Bool {
        try Self.check(task: task)
        return try await change(task, [])
    }

    /// Forgets what `task`'s limit has counted so far (its task-wide state, not per-argument
    /// ones): the next start may use a full burst. For benchmarks and tests.
    /// - Throws: as `set(_:for:)`.
    public func resetState(task: String) async throws {
        try Self.check(task: task)
        _ = try await translated { try await redis.send("DEL", Keys.rateLimit(task: task, argument: nil), timeout: 5) }
    }

    /// Every run-time limit, sorted by task name.
    /// - Throws: `backendUnavailable` when Redis does not answer.
    public func list() async throws -> [Entry] {
        let reply = try await translated { try await redis.send("HGETALL", Keys.rateLimits, timeout: 5) }
        return Self.entries(reply).sorted { $0.task < $1.task }
    }

    /// The change counter workers poll, and the limits when it moved from `known`.
    func load(ifNewerThan known: Int64?) async throws -> (version: Int64, entries: [Entry]?) {
        let version = try await translated { try await redis.send("GET", Keys.rateLimitsVersion, timeout: 2) }
        let current = version.string.flatMap { Int64($0) } ?? 0
        if let known, known == current { return (current, nil) }
        return (current, try await list())
    }

    @discardableResult
    private func change(_ task: String, _ value: [UInt8]) async throws -> Bool {
        let reply = try await translated {
            try await redis.evaluate(Scripts.rateLimitChange, keys: [Keys.rateLimits, Keys.rateLimitsVersion], arguments: [task, value],
                                     timeout: 5)
        }
        return reply.integer == 1
    }

    private func translated<T>(_ body: () async throws -> T) async throws -> T {
        do {
            return try await body()
        } catch let error as RedisError {
            throw ConveyorError(.backendUnavailable, "result store unavailable: \(error.message)")
        }
    }

    /// Checks a task name a limit is set for.
    /// - Throws: `ConveyorError.Code.invalidArguments` for an empty or oversized name.
    public static func check(task: String) throws {
        guard !task.isEmpty, task.utf8.count <= maxTaskName else {
            throw ConveyorError(.invalidArguments, "a task name must be 1 to \(maxTaskName) bytes, not \(task.utf8.count)")
        }
    }

    static func json(_ limit: RateLimit) -> JSON {
        var object: JSONObject = ["rate": .string(limit.rate), "burst": .int(Int64(limit.burst)), "scope": .string(limit.scope.rawValue)]
        if let selector = limit.perArgument { object["per_arg"] = .string(selector.description) }
        return .object(object)
    }

    /// Reads a stored limit back, checking it as `RateLimit.init` does.
    static func limit(_ json: JSON) throws -> RateLimit {
        guard let rate = json["rate"]?.string else { throw ConveyorError(.invalidArguments, "no rate") }
        let burst = json["burst"]?.int ?? 1
        guard (1...Int64(RateLimit.maxBurst)).contains(burst) else {
            throw ConveyorError(.invalidArguments, "burst must be in 1...\(RateLimit.maxBurst), not \(burst)")
        }
        let scopeName = json["scope"]?.string ?? RateLimit.Scope.fleet.rawValue
        guard let scope = RateLimit.Scope(rawValue: scopeName) else {
            throw ConveyorError(.invalidArguments, "scope must be fleet or worker, not \(scopeName.cappedUTF8(32))")
        }
        return try RateLimit(rate, burst: Int(burst), perArgument: json["per_arg"]?.string, scope: scope)
    }

    private static func entries(_ reply: RedisReply) -> [Entry] {
        let items = reply.array ?? []
        var entries: [Entry] = []
        for index in stride(from: 0, to: items.count - 1, by: 2) {
            guard let task = items[index].string else { continue }
            do {
                guard let bytes = items[index + 1].bytes, let json = try? JSON.parse(bytes) else {
                    throw ConveyorError(.invalidArguments, "not JSON")
                }
                entries.append(Entry(task: task, limit: try limit(json), problem: nil))
            } catch {
                entries.append(Entry(task: task, limit: nil, problem: "\(error)"))
            }
        }
        return entries
    }
}
