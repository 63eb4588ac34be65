/// How often a task may start: `count` per `period`, with a burst, fleet-wide (GCRA in Redis)
/// or per worker (Celery's meaning), optionally per value of one of its arguments.
///
/// ```swift
/// registry.register("email.send", defaults: TaskDefaults(rateLimit: try RateLimit("100/m", burst: 10, perArgument: "domain"))) { … }
/// ```
///
/// Every number is checked when the limit is made; a limit that exists is usable.
public struct RateLimit: Sendable, Hashable, CustomStringConvertible {
    /// Where the limit is counted.
    public enum Scope: String, Sendable, Hashable, CaseIterable {
        /// Across every worker that shares the Redis (a GCRA in Redis, on Redis' clock).
        case fleet
        /// On each worker separately, as Celery's `rate_limit` (eight workers start eight times
        /// the rate). Needs no Redis.
        case worker
    }

    /// Tasks per `periodSeconds`, 1...1,000,000.
    public let count: Int
    /// 1 (`s`), 60 (`m`) or 3600 (`h`).
    public let periodSeconds: Int
    /// Tasks that may start at once after a quiet spell, 1...10,000 (1: evenly spaced).
    public let burst: Int
    /// The argument whose value gets a limit of its own, or nil for one limit per task name.
    public let perArgument: ArgumentSelector?
    public let scope: Scope

    /// Most tasks per period, and the fastest rate (10,000/s): beyond that a limit would
    /// cost more than the tasks.
    public static let maxCount = 1_000_000
    public static let maxPerSecond = 10_000
    public static let maxBurst = 10_000

    /// - Parameters:
    ///   - rate: Celery's form, `COUNT/UNIT` with UNIT `s`, `m` or `h` (`10/s`, `100/m`,
    ///     `1000/h`); a bare `COUNT` is per second, as in Celery.
    ///   - burst: tasks that may start at once after a quiet spell, 1...10,000.
    ///   - perArgument: a keyword argument's name, a positional index (`"0"`), or both
    ///     (`"1:domain"`: the keyword when given, else the position): each value is limited
    ///     on its own.
    ///   - scope: `.fleet` (default) or `.worker`.
    /// - Throws: `ConveyorError.Code.invalidArguments` naming what is wrong.
    public init(_ rate: String, burst: Int = 1, perArgument: String? = nil, scope: Scope = .fleet) throws {
        let (count, period) = try Self.parse(rate)
        try self.init(count: count, periodSeconds: period, burst: burst, perArgument: perArgument, scope: scope)
    }

    /// A limit of `count` tasks per `periodSeconds` (1, 60 or 3600); see `init(_:burst:perArgument:scope:)`.
    /// - Throws: `ConveyorError.Code.invalidArguments` naming what is wrong.
    public init(count: Int, periodSeconds: Int, burst: Int = 1, perArgument: String? = nil, scope: Scope = .fleet) throws {
        guard [1, 60, 3600].contains(periodSeconds) else {
            throw ConveyorError(.invalidArguments, "a rate's period must be 1, 60 or 3600 seconds (s, m, h), not \(periodSeconds)")
        }
        guard (1...Self.maxCount).contains(count) else {
            throw ConveyorError(.invalidArguments, "a rate's count must be in 1...\(Self.maxCount), not \(count)")
        }
        guard count / periodSeconds <= Self.maxPerSecond, count <= Self.maxPerSecond * periodSeconds else {
            throw ConveyorError(.invalidArguments, "a rate may be at most \(Self.maxPerSecond)/s, not \(count) per \(periodSeconds) s")
        }
        guard (1...Self.maxBurst).contains(burst) else {
            throw ConveyorError(.invalidArguments, "burst must be in 1...\(Self.maxBurst), not \(burst)")
        }
        self.count = count
        self.periodSeconds = periodSeconds
        self.burst = burst
        self.perArgument = try perArgument.map(ArgumentSelector.init(parsing:))
        self.scope = scope
    }

    /// Microseconds between two starts at the steady rate (at least 100).
    var intervalMicroseconds: Int { periodSeconds * 1_000_000 / count }

    /// Seconds between two starts at the steady rate.
    public var interval: Double { Double(periodSeconds) / Double(count) }

    /// `100/m`.
    public var rate: String { "\(count)/\(Self.units.first { $0.seconds == periodSeconds }?.unit ?? "s")" }

    /// `100/m burst 10 per domain (fleet)`.
    public var description: String {
        rate + " burst \(burst)" + (perArgument.map { " per \($0)" } ?? "") + " (\(scope.rawValue))"
    }

    private static let units: [(unit: String, seconds: Int)] = [("s", 1), ("m", 60), ("h", 3600)]

    /// Reads `TASK=RATE[,burst=N][,per-arg=NAME][,scope=fleet|worker]`, the form
    /// `conveyor-worker --rate-limit` takes (Celery's `task_annotations` rate limits, on the
    /// command line).
    /// - Throws: `ConveyorError.Code.invalidArguments` naming what is wrong.
    public static func assignment(_ text: String) throws -> (task: String, limit: RateLimit) {
        guard let equals = text.firstIndex(of: "=") else {
            throw ConveyorError(.invalidArguments, "a rate limit must read TASK=RATE[,burst=N][,per-arg=NAME][,scope=fleet|worker], not '\(text.cappedUTF8(64))'")
        }
        let task = String(text[..<equals])
        try RateLimitSettings.check(task: task)
        let parts = text[text.index(after: equals)...].split(separator: ",", omittingEmptySubsequences: false).map(String.init)
        var burst = 1
        var perArgument: String?
        var scope = Scope.fleet
        for option in parts.dropFirst() {
            let pair = option.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
            switch (pair.first, pair.count) {
            case ("burst", 2):
                guard pair[1].utf8.count <= 6, pair[1].utf8.allSatisfy({ (0x30...0x39).contains($0) }), let value = Int(pair[1]) else {
                    throw ConveyorError(.invalidArguments, "burst must be in 1...\(maxBurst), not \(pair[1].cappedUTF8(32))")
                }
                burst = value
            case ("per-arg", 2):
                perArgument = pair[1]
            case ("scope", 2):
                guard let value = Scope(rawValue: pair[1]) else {
                    throw ConveyorError(.invalidArguments, "scope must be fleet or worker, not \(pair[1].cappedUTF8(32))")
                }
                scope = value
            default:
                throw ConveyorError(.invalidArguments, "unknown rate limit option '\(option.cappedUTF8(64))' (burst=N, per-arg=NAME, scope=fleet|worker)")
            }
        }
        return (task, try RateLimit(parts.first ?? "", burst: burst, perArgument: perArgument, scope: scope))
    }

    /// `"100/m"` → (100, 60).
    static func parse(_ rate: String) throws -> (count: Int, periodSeconds: Int) {
        let parts = rate.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false)
        let unit = parts.count == 2 ? String(parts[1]) : "s"
        guard let period = units.first(where: { $0.unit == unit })?.seconds else {
            throw ConveyorError(.invalidArguments, "rate '\(rate.cappedUTF8(64))' must be COUNT/UNIT with UNIT s, m or h, like 10/s or 100/m")
        }
        let digits = parts[0]
        // Digits only (no sign, no spaces), and few enough that the conversion cannot overflow.
        guard !digits.isEmpty, digits.utf8.allSatisfy({ (0x30...0x39).contains($0) }) else {
            throw ConveyorError(.invalidArguments, "rate '\(rate.cappedUTF8(64))' must start with a whole number of tasks above 0, like 10/s")
        }
        guard digits.utf8.count <= 7, let count = Int(digits), count <= maxCount else {
            throw ConveyorError(.invalidArguments, "rate '\(rate.cappedUTF8(64))' is too large: at most \(maxCount) per period")
        }
        guard count > 0 else {
            throw ConveyorError(.invalidArguments, "rate '\(rate.cappedUTF8(64))' must allow at least 1 task (to stop a task, revoke it or stop its workers)")
        }
        return (count, period)
    }
}

/// Which argument of a task a per-argument limit keys on.
public struct ArgumentSelector: Sendable, Hashable, CustomStringConvertible {
    /// The positional index, when given.
    public let position: Int?
    /// The keyword, when given.
    public let keyword: String?

    /// Longest keyword, bytes.
    public static let maxKeyword = 128
    /// Highest position.
    public static let maxPosition = 255

    /// `"domain"`, `"0"` or `"1:domain"`.
    /// - Throws: `ConveyorError.Code.invalidArguments` for an empty, oversized or malformed selector.
    public init(parsing text: String) throws {
        guard !text.isEmpty else { throw ConveyorError(.invalidArguments, "the per-argument name is empty") }
        guard text.utf8.count <= Self.maxKeyword + 4 else {
            throw ConveyorError(.invalidArguments, "the per-argument name is longer than \(Self.maxKeyword) bytes")
        }
        let parts = text.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
        let first = parts[0]
        let isIndex = !first.isEmpty && first.utf8.allSatisfy { (0x30...0x39).contains($0) }
        if parts.count == 2 {
            guard isIndex else {
                throw ConveyorError(.invalidArguments, "per-argument '\(text.cappedUTF8(64))' must be NAME, INDEX or INDEX:NAME")
            }
            try self.init(position: try Self.position(first), keyword: parts[1])
        } else if isIndex {
            try self.init(position: try Self.position(first), keyword: nil)
        } else {
            try self.init(position: nil, keyword: first)
        }
    }

    /// - Throws: `ConveyorError.Code.invalidArguments` when neither is given, or one is out of range.
    public init(position: Int?, keyword: String?) throws {
        guard position != nil || keyword != nil else { throw ConveyorError(.invalidArguments, "the per-argument selector names no argument") }
        if let position, !(0...Self.maxPosition).contains(position) {
            throw ConveyorError(.invalidArguments, "the per-argument position must be in 0...\(Self.maxPosition), not \(position)")
        }
        if let keyword {
            guard !keyword.isEmpty, keyword.utf8.count <= Self.maxKeyword else {
                throw ConveyorError(.invalidArguments, "the per-argument name must be 1 to \(Self.maxKeyword) bytes")
            }
            // A Python identifier, as keyword arguments are named.
            guard let first = keyword.first, first == "_" || first.isLetter,
                  keyword.allSatisfy({ $0 == "_" || $0.isLetter || $0.isNumber }) else {
                throw ConveyorError(.invalidArguments, "the per-argument name '\(keyword.cappedUTF8(64))' must be an identifier (letters, digits, _) or a position")
            }
        }
        self.position = position
        self.keyword = keyword
    }

    private static func position(_ digits: String) throws -> Int {
        guard digits.utf8.count <= 3, let value = Int(digits) else {
            throw ConveyorError(.invalidArguments, "the per-argument position must be in 0...\(maxPosition), not \(digits.cappedUTF8(16))")
        }
        return value
    }

    /// The argument's value in a call: the keyword's when the call passes it, else the position's.
    func value(args: [JSON], kwargs: JSONObject) -> JSON? {
        if let keyword, let value = kwargs[keyword] { return value }
        if let position, position < args.count { return args[position] }
        return nil
    }

    /// `"1:domain"`, `"domain"` or `"0"`: what `init(parsing:)` reads back.
    public var description: String {
        switch (position, keyword) {
        case let (position?, keyword?): return "\(position):\(keyword)"
        case let (position?, nil): return "\(position)"
        case let (nil, keyword?): return keyword
        case (nil, nil): return ""
        }
    }
}
