@testable import Conveyor
import Foundation
import IOSupport
import Synchronization

/// A wall clock that stands still until the test moves it; sleepers wake only then. Counts the
/// sleeps begun, so a test waits for "the worker is waiting for the ETA" as an event.
final class ManualWallClock: WallClock {
    private struct Sleeper {
        let until: Date
        let outcome: FirstOutcome<Void, Error>
    }
    private struct State {
        var now: Date
        var sleepers: [Sleeper] = []
        var sleepsBegun = 0
    }
    private let state: Mutex<State>

    init(now: Date = Date()) {
        state = Mutex(State(now: now))
    }

    var now: Date { state.withLock { $0.now } }

    /// How many sleeps have begun so far.
    var sleepsBegun: Int { state.withLock { $0.sleepsBegun } }

    func sleep(until date: Date) async throws {
        let outcome = FirstOutcome<Void, Error>()
        state.withLock { s in
            s.sleepsBegun += 1
            if date <= s.now {
                outcome.settle(.success(()))
            } else {
                s.sleepers.append(Sleeper(until: date, outcome: outcome))
            }
        }
        try await outcome.value()
    }

    /// Moves time to `date` and wakes every sleeper due by then.
    func advance(to date: Date) {
        let due = state.withLock { s -> [Sleeper] in
            s.now = max(s.now, date)
            let now = s.now
            defer { s.sleepers.removeAll { $0.until <= now } }
            return s.sleepers.filter { $0.until <= now }
        }
        for sleeper in due { sleeper.outcome.settle(.success(())) }
    }
}
