import Foundation
import Logging
import Synchronization

/// The rate limits one worker applies: its tasks' limits in code, replaced by those set at run
/// time (`RateLimitSettings`), which it polls from Redis twice a second. Decides which tasks of
/// an admitted batch start now and how long the others wait.
final class RateLimitGate: Sendable {
    private struct State {
        /// Run-time limits by task name.
        var overrides: [String: RateLimit] = [:]
        /// The change counter last loaded; nil until the run-time limits were read once.
        var version: Int64?
        /// Tasks whose stored run-time limit is unusable (logged once per change).
        var unusable: [String: String] = [:]
    }

    /// How often the run-time limits are polled: a change reaches the worker within this
    /// (plus a round trip). One `GET` of a counter each time; the limits are read only when it moved.
    static let pollInterval = 0.5
    /// Seconds ahead within which a denied task waits for its own slot in memory (no run slot)
    /// instead of going through the delay cascade, whose resolution is a second.
    static let holdWindow = 1.0
    /// Seconds a task waits when its limit cannot be checked (Redis down), before jitter.
    static let unavailableWait = 2.0

    let defaults: [String: RateLimit]
    let settings: RateLimitSettings
    let fleet: RateLimiter
    let local = LocalRateLimiter()
    /// Deferrals still publishing their copy. They hold no run slot (a task waiting for its
    /// turn is not running, and publish confirms must not hold up the limiter's intake);
    /// the unacknowledged delivery each holds bounds them by the prefetch, and a shutdown
    /// waits for them as it waits for runs.
    let deferring = Slots(1 << 30)
    private let state = Mutex(State())

    init(registry: TaskRegistry, client: ConveyorClient) {
        var defaults: [String: RateLimit] = [:]
        for name in registry.names { if let limit = registry.task(named: name)?.defaults.rateLimit { defaults[name] = limit } }
        self.defaults = defaults
        settings = RateLimitSettings(redis: client.redis)
        fleet = RateLimiter(redis: client.redis)
    }

    /// Whether the run-time limits were read at least once.
    var isLoaded: Bool { state.withLock { $0.version != nil } }

    /// Whether any task may be limited: false means no task of any batch needs a look-up.
    var limitsAnything: Bool { !defaults.isEmpty || state.withLock { !$0.overrides.isEmpty } }

    /// The limit that applies to `task` now: the run-time one, else the one in code.
    func limit(for task: String) -> RateLimit? {
        state.withLock { $0.overrides[task] } ?? defaults[task]
    }

    /// Every limit that applies now, by task name (for logs and tests).
    var current: [String: RateLimit] {
        defaults.merging(state.withLock { $0.overrides }) { $1 }
    }

    /// Reads the run-time limits when they changed.
    /// - Returns: the limits that apply now when they changed, nil when not.
    /// - Throws: `backendUnavailable` when Redis does not answer.
    @discardableResult
    func refresh(logger: Logger) async throws -> [String: RateLimit]? {
        let known = state.withLock { $0.version }
        let (version, entries) = try await settings.load(ifNewerThan: known)
        guard let entries else { return nil }
        var overrides: [String: RateLimit] = [:]
        var unusable: [String: String] = [:]
        for entry in entries {
            if let limit = entry.limit { overrides[entry.task] = limit } else { unusable[entry.task] = entry.problem ?? "unreadable" }
        }
        let changed = state.withLock { s -> Bool in
            // A slower poll must not put back what a newer one read.
            if let current = s.version, current > version { return false }
            let changed = s.overrides != overrides || s.version == nil
            s.overrides = overrides
            s.unusable = unusable
            s.version = version
            return changed
        }
        for (task, problem) in unusable.sorted(by: { $0.key < $1.key }) {
            // The limit in code (if any) applies: an unreadable entry never lifts a limit silently.
            logger.error("run-time rate limit unusable; the task's limit in code applies", metadata: [
                "task": .string(task.cappedUTF8(256)), "problem": .string(problem.cappedUTF8(256)),
            ])
        }
        return changed ? current : nil
    }

    /// The key a task's run counts against: per task name, or per value of its chosen argument.
    static func key(task: String, limit: RateLimit, args: [JSON], kwargs: JSONObject) -> String {
        guard let selector = limit.perArgument else { return Keys.rateLimit(task: task, argument: nil) }
        // The compact JSON text: 7 and "7" are different values, as in Python.
        let value = selector.value(args: args, kwargs: kwargs).map { $0.text(.compact) } ?? "-"
        return Keys.rateLimit(task: task, argument: value)
    }

    /// The wait to defer a denied task by: its place in line plus up to a tenth more (at most
    /// a second), so tasks told the same moment do not all come back at once.
    static func jittered(_ wait: Double) -> Double {
        let wait = max(0, wait)
        return wait + Double.random(in: 0...min(1, max(0.001, wait / 10)))
    }
}
