import IOSupport
import Redis
import Synchronization

/// Writes a run's PROGRESS states at most once per `interval`: a body reporting in a tight loop
/// costs one Redis write per interval, not one per call. A report that arrives too soon waits
/// (replaced by any newer one) and is written when the interval has passed, or by `flush()`,
/// which the worker calls when the body returns, before it stores the outcome.
final class ProgressReporter: Sendable {
    /// The shortest time between two writes of one run.
    static let interval = 0.25

    private struct State {
        var lastWrite: Double?
        var pending: ResultMeta?
        var scheduled: Task<Void, Never>?
        var writes = 0
    }
    private let state = Mutex(State())

    /// Writes made so far (tests read it).
    var writes: Int { state.withLock { $0.writes } }

    /// Whether `flush` would write nothing: no report waits and none is scheduled.
    var isIdle: Bool { state.withLock { $0.pending == nil && $0.scheduled == nil } }

    /// Writes `meta` now, or keeps it for later if the last write was too recent.
    func report(_ meta: ResultMeta, store: ResultStore) async throws {
        enum Action { case writeNow, schedule(after: Double), wait }
        let now = monotonicSeconds()
        let action = state.withLock { s -> Action in
            if let last = s.lastWrite, now - last < Self.interval {
                s.pending = meta
                return s.scheduled == nil ? .schedule(after: last + Self.interval - now) : .wait
            }
            s.lastWrite = now
            s.pending = nil
            s.writes += 1
            return .writeNow
        }
        switch action {
        case .writeNow:
            try await store.storeProgress(meta)
        case let .schedule(delay):
            let task = Task { [weak self] in
                try? await Task.sleep(for: .milliseconds(Int64(max(1, delay * 1000))))
                await self?.flush(store: store, scheduled: true)
            }
            state.withLock { $0.scheduled = task }
        case .wait:
            break
        }
    }

    /// Writes the report still waiting, if any (best effort: a final state is never replaced).
    func flush(store: ResultStore, scheduled: Bool = false) async {
        let meta = state.withLock { s -> ResultMeta? in
            if !scheduled { s.scheduled?.cancel() }
            s.scheduled = nil
            guard let pending = s.pending else { return nil }
            s.pending = nil
            s.lastWrite = monotonicSeconds()
            s.writes += 1
            return pending
        }
        if let meta { _ = try? await store.storeProgress(meta) }
    }
}

extension ResultStore {
    /// Stores a custom state (PROGRESS) unless a final state (SUCCESS, FAILURE, REVOKED) is
    /// there. - Returns: whether it was written.
    @discardableResult
    func storeProgress(_ meta: ResultMeta) async throws -> Bool {
        try await redis.evaluate(Scripts.storeProgress, keys: [ResultMeta.key(for: meta.taskId)],
                                 arguments: [meta.serialized, ttl ?? 0]).integer == 1
    }
}

extension TaskContext {
    /// The custom state progress is stored under (Celery's convention).
    public static let progressState: TaskState = "PROGRESS"

    /// Reports progress the way Celery apps do with `update_state(state="PROGRESS", meta=…)`:
    /// stored as `{"status": "PROGRESS", "result": {"current": done, "total": total, …info}}`,
    /// which Python's `AsyncResult(id).state` / `.info` and `conveyor result ID` read while the
    /// task runs.
    ///
    /// Throttled: at most one write per 250 ms per run; a report made sooner is kept (a newer
    /// one replaces it) and written when the 250 ms have passed, and the last one is always
    /// written before the task's outcome. A final state is never overwritten.
    /// - Parameters:
    ///   - done: units finished.
    ///   - total: units in all.
    ///   - info: more members for the `result` object (`current` and `total` are set by this
    ///     call and cannot be replaced).
    /// - Throws: `ConveyorError.Code.backendUnavailable` when Redis does not answer.
    public func progress(done: Int, total: Int, info: JSONObject = [:]) async throws {
        var result: JSONObject = ["current": .int(Int64(done)), "total": .int(Int64(total))]
        for (key, value) in info where key != "current" && key != "total" { result[key] = value }
        let meta = ResultMeta(taskId: id, status: Self.progressState, result: .object(result), children: .array([]), parentId: parentId)
        do {
            try await scope.progressReporter.report(meta, store: client.results)
        } catch let error as RedisError {
            throw ConveyorError(.backendUnavailable, "progress of task \(id) not stored: \(error.message)")
        }
    }

    /// Writes the last throttled progress report (the worker calls it when the body returns).
    func flushProgress() async {
        await scope.flushProgress(store: client.results)
    }
}
