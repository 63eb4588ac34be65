@testable import Conveyor
import Foundation
import Synchronization

/// A watchdog clock that stands still until the test moves it, and records every wait the
/// watchdog's thread makes (what it chose to sleep until), so a test steps time and waits on
/// those events instead of on real time.
final class ManualWatchdogClock: WatchdogClock {
    private struct Waiter {
        let id: Int
        let condition: NSCondition
        let deadline: Double?
    }
    private struct State {
        var now: Double = 0
        var waiters: [Waiter] = []
        var nextId = 0
        var waits: [Double?] = []
    }
    private let state = Mutex(State())
    /// Whether `wait` blocks (a running watchdog thread) or only records and returns (a test that
    /// steps the passes itself on its own thread, where blocking would hang the test).
    private let blocks: Bool

    init(blocks: Bool) {
        self.blocks = blocks
    }

    func now() -> Double { state.withLock { $0.now } }

    /// Every deadline the watchdog waited until, in order (nil: no deadline).
    var waits: [Double?] { state.withLock { $0.waits } }

    func wait(on condition: NSCondition, until deadline: Double?) {
        // Registered and checked against the time in one step, so an `advance` either sees this
        // waiter or happened before it looked.
        let id = state.withLock { s -> Int? in
            s.waits.append(deadline)
            if let deadline, deadline <= s.now { return nil }
            s.nextId += 1
            s.waiters.append(Waiter(id: s.nextId, condition: condition, deadline: deadline))
            return s.nextId
        }
        guard let id, blocks else { return }
        // `advance` must lock `condition` to signal it, which it can only do once this thread
        // waits (and so released it): no signal is lost.
        condition.wait()
        state.withLock { $0.waiters.removeAll { $0.id == id } }
    }

    /// Moves time forward and wakes a waiter whose deadline has come.
    func advance(by seconds: Double) {
        let due = state.withLock { s -> [NSCondition] in
            s.now += seconds
            let now = s.now
            return s.waiters.filter { $0.deadline.map { $0 <= now } ?? false }.map(\.condition)
        }
        for condition in due {
            condition.lock()
            condition.broadcast()
            condition.unlock()
        }
    }
}
