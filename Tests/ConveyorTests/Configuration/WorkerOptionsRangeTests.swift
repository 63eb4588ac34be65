import Conveyor
import Logging
import Testing

/// `WorkerOptions` are public `var`s: the two the initialiser clamps stay clamped when set later
/// (a heartbeat interval of infinity once reached `Int(3 * interval)`), and `Worker.init`
/// refuses the others out of range, before it makes any connection.
@Suite("Worker option numbers: clamped where the contract says so, refused otherwise")
struct WorkerOptionsRangeTests {
    static let offline = ConveyorConfiguration(brokerURL: "amqp://guest:guest@127.0.0.1:1/%2F", resultURL: "redis://127.0.0.1:1/0")
    static let logger = Logger(label: "numbers", factory: { _ in SwiftLogNoOpLogHandler() })

    @Test("heartbeatInterval is clamped to 1...3600 s in init and when set later; NaN and infinity read as the default 5")
    func heartbeatClamp() {
        #expect(WorkerOptions(heartbeatInterval: .infinity).heartbeatInterval == 5)
        var options = WorkerOptions()
        let cases: [(Double, Double)] = [(.infinity, 5), (-.infinity, 5), (.nan, 5), (1e300, 3600), (3601, 3600), (0, 1), (-1, 1), (2.5, 2.5)]
        for (set, read) in cases {
            options.heartbeatInterval = set
            #expect(options.heartbeatInterval == read, "\(set)")
        }
    }

    @Test("maxUnfinishedRuns is clamped to 1...1000000 in init and when set later")
    func unfinishedRunsClamp() {
        #expect(WorkerOptions(maxUnfinishedRuns: 0).maxUnfinishedRuns == 1)
        var options = WorkerOptions()
        for (set, read) in [(Int.max, 1_000_000), (Int.min, 1), (0, 1), (7, 7)] {
            options.maxUnfinishedRuns = set
            #expect(options.maxUnfinishedRuns == read, "\(set)")
        }
    }

    /// Options with one field out of range, and the name its error must carry.
    static let refused: [(String, @Sendable (inout WorkerOptions) -> Void)] = [
        ("concurrency", { $0.concurrency = 0 }), ("concurrency", { $0.concurrency = Int.max }), ("concurrency", { $0.concurrency = 65_536 }),
        ("prefetch", { $0.prefetch = 0 }), ("prefetch", { $0.prefetch = 65_536 }), ("prefetch", { $0.prefetch = -1 }),
        ("shutdownGracePeriod", { $0.shutdownGracePeriod = .nan }), ("shutdownGracePeriod", { $0.shutdownGracePeriod = .infinity }),
        ("shutdownGracePeriod", { $0.shutdownGracePeriod = -1 }), ("shutdownGracePeriod", { $0.shutdownGracePeriod = 1e300 }),
        ("storeRetryWindow", { $0.storeRetryWindow = .nan }), ("storeRetryWindow", { $0.storeRetryWindow = -.infinity }),
        ("storeRetryWindow", { $0.storeRetryWindow = 86_401 }),
        ("startCountTTL", { $0.startCountTTL = 0 }), ("startCountTTL", { $0.startCountTTL = Int.max }),
        ("healthFile", { $0.healthFile = "" }),
    ]

    @Test("a field set out of range after init is refused by validate() and Worker.init", arguments: refused.indices)
    func settableFields(_ index: Int) throws {
        let (name, change) = Self.refused[index]
        var options = WorkerOptions(queues: ["q"])
        try options.validate()
        change(&options)
        let error = #expect(throws: ConveyorError.self) { try options.validate() }
        #expect(error?.code == .invalidConfiguration)
        #expect(error?.message.contains(name) == true, "\(error?.message ?? "")")
        let refused = #expect(throws: ConveyorError.self) {
            try Worker(configuration: Self.offline, options: options, registry: TaskRegistry(), logger: Self.logger)
        }
        #expect(refused?.message.contains(name) == true)
    }

    @Test("the edges are accepted: concurrency and prefetch 1 and 65535, no grace period, a century of run counts")
    func edges() throws {
        for value in [1, 65_535] {
            try WorkerOptions(concurrency: value, prefetch: value).validate()
        }
        try WorkerOptions(concurrency: 65_535).validate()
        try WorkerOptions(shutdownGracePeriod: 0, storeRetryWindow: 86_400, startCountTTL: 3_155_760_000).validate()
    }

    @Test("a task's default time limit that is NaN, infinite, zero or negative is refused by Worker.init, naming the task",
          arguments: [Double.nan, .infinity, -.infinity, 0, -1])
    func taskDefaults(_ seconds: Double) throws {
        for defaults in [TaskDefaults(timeLimit: seconds), TaskDefaults(softTimeLimit: seconds)] {
            var registry = TaskRegistry()
            registry.register("numbers.task", defaults: defaults) { _ in .null }
            let error = #expect(throws: ConveyorError.self) { try registry.validate() }
            #expect(error?.message.contains("numbers.task") == true, "\(error?.message ?? "")")
            #expect(throws: ConveyorError.self) {
                try Worker(configuration: Self.offline, options: WorkerOptions(queues: ["q"]), registry: registry, logger: Self.logger)
            }
        }
        var fine = TaskRegistry()
        fine.register("numbers.task", defaults: TaskDefaults(timeLimit: 1e9, softTimeLimit: 0.001)) { _ in .null }
        try fine.validate()
    }
}
