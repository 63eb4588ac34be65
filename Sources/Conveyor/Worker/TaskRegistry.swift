/// Per-task defaults a worker applies when the message does not say otherwise.
public struct TaskDefaults: Sendable {
    /// Hard time limit, seconds: finite and above 0 (`Worker.init` refuses others).
    public var timeLimit: Double?
    /// Soft time limit, seconds: finite and above 0 (`Worker.init` refuses others).
    public var softTimeLimit: Double?
    /// Never store the result.
    public var ignoreResult: Bool
    /// What happens when the task fails.
    public var retry: RetryPolicy
    /// How often the task may start (fleet-wide or per worker); a limit set at run time
    /// (`conveyor limit set`, `RateLimitSettings`) replaces it. Over the limit a task is
    /// deferred, not run, and not counted as a retry.
    public var rateLimit: RateLimit?
    /// At most this many runs at once across the fleet (see `ConcurrencyCap`); none when nil.
    public var concurrencyCap: ConcurrencyCap?

    public init(timeLimit: Double? = nil, softTimeLimit: Double? = nil, ignoreResult: Bool = false, retry: RetryPolicy = .never,
                rateLimit: RateLimit? = nil) {
        self.timeLimit = timeLimit
        self.softTimeLimit = softTimeLimit
        self.ignoreResult = ignoreResult
        self.retry = retry
        self.rateLimit = rateLimit
    }

    /// Checks the time limits.
    /// - Throws: `ConveyorError.Code.invalidConfiguration` naming `task` and the limit.
    func validate(task: String) throws {
        for (name, limit) in [("timeLimit", timeLimit), ("softTimeLimit", softTimeLimit)] {
            if let limit, !(limit.isFinite && limit > 0) {
                throw ConveyorError(.invalidConfiguration, "\(name) of task \(task) must be a finite number of seconds above 0, not \(limit)")
            }
        }
        try concurrencyCap?.validate(task: task)
    }
}

/// A registered task: its name, defaults and body.
public struct RegisteredTask: Sendable {
    public let name: String
    public let defaults: TaskDefaults
    let body: @Sendable (TaskContext) async throws -> JSON
}

/// The tasks a worker can run, by name. Build it before starting the worker.
public struct TaskRegistry: Sendable {
    private var tasks: [String: RegisteredTask] = [:]

    public init() {}

    /// Registers a task that reads Celery arguments itself.
    ///
    /// ```swift
    /// registry.register("conveyor.add") { context in
    ///     .int(try context.argument(0, "x", as: Int64.self) + context.argument(1, "y", as: Int64.self))
    /// }
    /// ```
    public mutating func register(_ name: String, defaults: TaskDefaults = .init(),
                                  _ body: @escaping @Sendable (TaskContext) async throws -> JSON) {
        tasks[name] = RegisteredTask(name: name, defaults: defaults, body: body)
    }

    /// Registers a typed task: arguments are decoded from the kwargs (or from a single
    /// positional object), the output is encoded as the result.
    public mutating func register<T: TaskDefinition>(_ task: T.Type, defaults: TaskDefaults = .init(),
                                                     _ body: @escaping @Sendable (T.Arguments, TaskContext) async throws -> T.Output) {
        register(T.name, defaults: defaults) { context in
            let source: JSON
            if context.kwargs.isEmpty, context.args.count == 1, case .object = context.args[0] {
                source = context.args[0]
            } else {
                guard context.args.isEmpty else {
                    throw TaskArgumentError("\(T.name) takes keyword arguments only, got \(context.args.count) positional")
                }
                source = .object(context.kwargs)
            }
            let arguments: T.Arguments
            do {
                arguments = try source.decode(T.Arguments.self)
            } catch {
                throw TaskArgumentError("invalid arguments for \(T.name): \(error)")
            }
            return try JSON(encoding: try await body(arguments, context))
        }
    }

    /// The task registered under `name`.
    public func task(named name: String) -> RegisteredTask? { tasks[name] }

    /// Sets (or with nil removes) the rate limit in code of a task already registered.
    /// - Throws: `ConveyorError.Code.invalidArguments` when no task has that name.
    public mutating func setRateLimit(_ limit: RateLimit?, for name: String) throws {
        guard let task = tasks[name] else { throw ConveyorError(.invalidArguments, "no task named \(name.cappedUTF8(256)) is registered") }
        var defaults = task.defaults
        defaults.rateLimit = limit
        tasks[name] = RegisteredTask(name: name, defaults: defaults, body: task.body)
    }

    /// Every registered name, sorted.
    public var names: [String] { tasks.keys.sorted() }

    /// Checks every task's defaults (`Worker.init` calls it).
    /// - Throws: `ConveyorError.Code.invalidConfiguration` naming the task and the value.
    public func validate() throws {
        for task in tasks.values { try task.defaults.validate(task: task.name) }
    }
}
