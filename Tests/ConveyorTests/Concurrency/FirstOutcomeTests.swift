@testable import Conveyor
import Synchronization
import Testing

/// The race under `call()` and every time-limited task run: the first outcome resumes the
/// caller, later ones are refused, clean-ups run once.
@Suite("first outcome wins")
struct FirstOutcomeTests {
    private struct Boom: Error, Equatable {}

    @Test("an outcome that arrives before the caller waits is kept for it")
    func earlyOutcome() async {
        let race = FirstOutcome<Int, Never>()
        #expect(race.settle(.success(7)))
        #expect(race.isSettled)
        let value = await withCheckedContinuation { race.attach($0) }
        #expect(value == 7)
    }

    @Test("only the first outcome counts; the others are told they lost")
    func firstWins() async throws {
        let race = FirstOutcome<String, Error>()
        let waiting = Task { try await withCheckedThrowingContinuation { race.attach($0) } }
        // Let the caller attach first on most runs; the result is the same either way.
        await Task.yield()
        #expect(race.settle(.success("first")))
        #expect(!race.settle(.success("second")))
        #expect(!race.settle(.failure(Boom())))
        #expect(try await waiting.value == "first")
    }

    @Test("a failure reaches the caller as a thrown error")
    func failure() async {
        let race = FirstOutcome<Int, Error>()
        race.settle(.failure(Boom()))
        await #expect(throws: Boom.self) { try await withCheckedThrowingContinuation { race.attach($0) } }
    }

    @Test("clean-ups run once: at the settle, before the caller resumes, or at once when already settled")
    func cleanups() async {
        let race = FirstOutcome<Int, Never>()
        let log = Mutex<[String]>([])
        race.onSettle { log.withLock { $0.append("before") } }
        let waiting = Task {
            let value = await withCheckedContinuation { race.attach($0) }
            log.withLock { $0.append("resumed \(value)") }
        }
        await Task.yield()
        race.settle(.success(1))
        race.settle(.success(2))
        await waiting.value
        race.onSettle { log.withLock { $0.append("after") } }
        #expect(log.withLock { $0 } == ["before", "resumed 1", "after"])
    }
}
