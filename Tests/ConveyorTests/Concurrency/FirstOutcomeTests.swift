@testable import Conveyor
import IOSupport
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
    func cleanups() async throws {
        let race = FirstOutcome<Int, Never>()
        let log = Mutex<[String]>([])
        let attached = Mutex(false)
        let waiting = Task {
            let value = await withCheckedContinuation { continuation in
                race.attach(continuation)
                attached.withLock { $0 = true }
            }
            log.withLock { $0.append("resumed \(value)") }
        }
        while !attached.withLock({ $0 }) { try await Task.sleep(for: .milliseconds(1)) }
        race.onSettle {
            // Give a caller resumed too early 20 ms to show up in the log.
            let until = ContinuousClock.now + .milliseconds(20)
            var early = false
            while ContinuousClock.now < until && !early { early = log.withLock { !$0.isEmpty } }
            log.withLock { $0.append(early ? "clean-up after resume" : "clean-up") }
        }
        race.settle(.success(1))
        race.settle(.success(2))
        await waiting.value
        race.onSettle { log.withLock { $0.append("late clean-up") } }
        #expect(log.withLock { $0 } == ["clean-up", "resumed 1", "late clean-up"])
    }

    @Test("value(): a caller cancelled before it waits ends at once with CancellationError; a later outcome is refused")
    func valueCancelledBeforeWaiting() async {
        let race = FirstOutcome<Int, Error>()
        let waiting = Task {
            withUnsafeCurrentTask { $0?.cancel() }
            return try await race.value()
        }
        await #expect(throws: CancellationError.self) { try await waiting.value }
        #expect(!race.settle(.success(1)))
    }

    @Test("value(): cancelling a waiting caller ends its wait with CancellationError")
    func valueCancelledWhileWaiting() async {
        let race = FirstOutcome<Int, Error>()
        let waiting = Task { try await race.value() }
        waiting.cancel()
        await #expect(throws: CancellationError.self) { try await waiting.value }
        #expect(race.isSettled)
    }
}
