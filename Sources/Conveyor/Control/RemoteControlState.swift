import AMQP
import Foundation
import Synchronization

/// What Celery's remote control changes or asks about on a worker, beyond what the worker
/// itself keeps: the revoked ids it was told about, time limits set at run time, tasks held
/// for a near ETA, the queues consumed (with those `add_consumer` added), counts by task, whether events are sent, and the Lamport
/// clock that pidbox messages and events carry.
final class RemoteControlState: Sendable {
    /// Revoked ids remembered (Celery's `REVOKES_MAX`); the oldest are forgotten first.
    static let maxRevoked = 50_000

    /// Time limits `time_limit` set for a task, seconds.
    struct TimeLimits: Sendable, Equatable {
        var soft: Double?
        var hard: Double?
    }

    /// A task held in memory until its near ETA (`scheduled`).
    struct Held: Sendable {
        let message: TaskMessage
        let delivery: Delivery
        let eta: Date
    }

    private struct State {
        var revokedOrder: [String] = []
        var revoked: Set<String> = []
        var timeLimits: [String: TimeLimits] = [:]
        var held: [String: Held] = [:]
        /// Queues consumed now with their consumer tags (one per loop), in the order they were added.
        var consumed: [(queue: String, tags: [String])] = []
        /// Tasks received, by name (`stats.total`), and in all (`processed`).
        var totals: [String: Int] = [:]
        var processed = 0
        var eventsEnabled: Bool
        var clock: Int = 0
        var listening = false
    }
    private let state: Mutex<State>

    init(eventsEnabled: Bool) {
        state = Mutex(State(eventsEnabled: eventsEnabled))
    }

    /// Whether the pidbox queue is bound and consumed: a broadcast sent before then is not
    /// seen by this worker (the `celery.pidbox` fanout keeps nothing for a queue not yet bound).
    var listening: Bool {
        get { state.withLock { $0.listening } }
        set { state.withLock { $0.listening = newValue } }
    }

    // MARK: Lamport clock

    /// Advances the clock for a message or event this worker sends.
    /// - Returns: the new value.
    func tick() -> Int {
        state.withLock { s in
            s.clock += 1
            return s.clock
        }
    }

    /// Takes in the clock of a message received (`max(mine, theirs) + 1`). Values outside
    /// `0...Int.max / 2` (nothing a real clock reaches) are ignored.
    func adjust(to other: Int64) {
        guard other >= 0, other < Int64.max / 2 else { return }
        state.withLock { s in s.clock = max(s.clock, Int(other)) + 1 }
    }

    var clock: Int { state.withLock { $0.clock } }

    /// Advances the clock and runs `send` with the new value under the lock, so messages
    /// handed to the connection from several threads leave in the order of their clocks.
    func tick(_ send: (Int) -> Void) {
        state.withLock { s in
            s.clock += 1
            send(s.clock)
        }
    }

    // MARK: Revoked ids

    /// Remembers `ids` as revoked (for `inspect revoked`), forgetting the oldest past `maxRevoked`.
    func revoke(_ ids: some Sequence<String>) {
        state.withLock { s in
            for id in ids where s.revoked.insert(id).inserted { s.revokedOrder.append(id) }
            let excess = s.revokedOrder.count - Self.maxRevoked
            if excess > 0 {
                for id in s.revokedOrder.prefix(excess) { s.revoked.remove(id) }
                s.revokedOrder.removeFirst(excess)
            }
        }
    }

    var revoked: [String] { state.withLock { $0.revokedOrder } }

    // MARK: Time limits

    func setTimeLimits(_ limits: TimeLimits, for task: String) {
        state.withLock { $0.timeLimits[task] = limits }
    }

    func timeLimits(for task: String) -> TimeLimits? {
        state.withLock { $0.timeLimits[task] }
    }

    // MARK: Held for an ETA

    func hold(_ message: TaskMessage, delivery: Delivery, eta: Date) {
        state.withLock { $0.held[message.id] = Held(message: message, delivery: delivery, eta: eta) }
    }

    func release(_ taskId: String) {
        _ = state.withLock { $0.held.removeValue(forKey: taskId) }
    }

    var held: [Held] { state.withLock { Array($0.held.values) }.sorted { $0.eta < $1.eta } }

    // MARK: Consumers and events

    /// Records that `queue` is consumed under `tags`, one per loop (nil: no longer consumed).
    func setConsumed(_ queue: String, tags: [String]?) {
        state.withLock { s in
            s.consumed.removeAll { $0.queue == queue }
            if let tags { s.consumed.append((queue, tags)) }
        }
    }

    /// The consumer tags of `queue`, one per loop, when it is consumed.
    func consumerTags(_ queue: String) -> [String]? { state.withLock { s in s.consumed.first { $0.queue == queue }?.tags } }

    var consumedQueues: [String] { state.withLock { $0.consumed.map(\.queue) } }

    /// Counts a task received (Celery counts on reservation). Names are counted up to 10,000
    /// distinct ones, so a stream of made-up names cannot grow the table without bound.
    func countReceived(_ task: String) {
        state.withLock { s in
            s.processed += 1
            if s.totals[task] != nil || s.totals.count < 10_000 { s.totals[task, default: 0] += 1 }
        }
    }

    var totals: [(name: String, count: Int)] { state.withLock { $0.totals }.sorted { $0.key < $1.key }.map { ($0.key, $0.value) } }
    var processed: Int { state.withLock { $0.processed } }

    /// Turns events on or off.
    /// - Returns: whether this changed anything.
    func setEvents(_ enabled: Bool) -> Bool {
        state.withLock { s in
            defer { s.eventsEnabled = enabled }
            return s.eventsEnabled != enabled
        }
    }

    var eventsEnabled: Bool { state.withLock { $0.eventsEnabled } }
}
