import Conveyor
import Foundation

/// Jepsen-style bookkeeping for one scenario: every enqueue is `ok` (confirmed), `refused` (the
/// client was told clearly it was not enqueued: unroutable, invalid, refused by the broker) or
/// `unknown` (the client could not tell); at the end every `ok` task must have ended in exactly one of a
/// stored final state (SUCCESS, or FAILURE/REVOKED for tasks meant to fail) or a dead letter
/// with a reason. Anything else is lost.
actor Ledger {
    private(set) var ok: [String] = []
    private(set) var unknown: [String] = []
    private(set) var refused = 0
    /// Why enqueues were refused, with how many each reason.
    private(set) var refusedReasons: [String: Int] = [:]
    /// Why enqueues ended unknown, with how many each reason: the first thing to read when a
    /// scenario shows unknowns.
    private(set) var unknownReasons: [String: Int] = [:]

    func record(_ outcomes: [Result<TaskHandle, ConveyorError>], ids: [String]) {
        for (outcome, id) in zip(outcomes, ids) {
            switch outcome {
            case .success: ok.append(id)
            case let .failure(error) where [.unroutable, .invalidArguments, .publishFailed].contains(error.code):
                refused += 1
                refusedReasons["\(error.code): \(error.message.prefix(160))", default: 0] += 1
            case let .failure(error):
                unknown.append(id)
                unknownReasons["\(error.code): \(error.message.prefix(160))", default: 0] += 1
            }
        }
    }

    func recordOK(_ id: String) { ok.append(id) }
}

/// What the checker found.
struct Verdict {
    var ok = 0
    var refused = 0
    var unknown = 0
    var succeeded = 0
    var failed = 0
    var deadLettered = 0
    var lost: [String] = []
    var duplicates = 0
    var recoverySeconds: Double?
    var notes: [String] = []
    var problems: [String] = []

    var passed: Bool { lost.isEmpty && problems.isEmpty }
}

/// Checks a ledger against Redis, the dead letters and the workers' logs.
struct Checker {
    let client: ConveyorClient
    let queue: String

    /// Waits (bounded) until every ok task is final or dead-lettered, then judges.
    func verdict(ledger: Ledger, workers: [SupervisedWorker], drainTimeout: Double) async throws -> Verdict {
        let ok = await ledger.ok
        var verdict = Verdict()
        verdict.ok = ok.count
        verdict.unknown = await ledger.unknown.count
        verdict.refused = await ledger.refused
        for (reason, count) in await ledger.unknownReasons.sorted(by: { $0.value > $1.value }) {
            verdict.notes.append("\(count) unknown: \(reason)")
        }
        for (reason, count) in await ledger.refusedReasons.sorted(by: { $0.value > $1.value }) {
            verdict.notes.append("\(count) refused: \(reason)")
        }
        var pending = Set(ok)
        var deadIds = Set<String>()
        let deadline = Date().addingTimeInterval(drainTimeout)
        while !pending.isEmpty {
            for result in try await client.results(for: Array(pending)) where result.state.isReady {
                pending.remove(result.id)
            }
            if !pending.isEmpty {
                deadIds = try await deadLetterIds()
                pending.subtract(deadIds)
            }
            if pending.isEmpty || Date() > deadline { break }
            try await Task.sleep(for: .milliseconds(500))
        }
        verdict.lost = pending.sorted()
        let results = try await client.results(for: ok)
        verdict.succeeded = results.filter { $0.state == .success }.count
        verdict.failed = results.filter { $0.state == .failure || $0.state == .revoked }.count
        deadIds = try await deadLetterIds()
        verdict.deadLettered = deadIds.count
        verdict.duplicates = duplicateExecutions(workers: workers, ids: Set(ok))
        return verdict
    }

    /// Task ids in the dead letters. A dead-letter queue that does not exist (yet) holds none:
    /// after a broker crash it comes back when a worker reconnects and re-declares it.
    private func deadLetterIds() async throws -> Set<String> {
        guard try await Fleet(client: client).queue(queue)?.deadLetters != nil else { return [] }
        return Set(try await DeadLetterBox(client: client).list(queue: queue, limit: 100_000).compactMap(\.taskId))
    }

    /// Tasks that started more than once, counted from the workers' `task started` log lines.
    private func duplicateExecutions(workers: [SupervisedWorker], ids: Set<String>) -> Int {
        var starts: [Substring: Int] = [:]
        for file in workers.flatMap(\.logFiles) {
            guard let text = try? String(contentsOf: file, encoding: .utf8) else { continue }
            for line in text.split(separator: "\n") where line.contains("msg=\"task started\"") {
                guard let range = line.range(of: " id=") else { continue }
                let id = line[range.upperBound...].prefix { $0 != " " }
                starts[id, default: 0] += 1
            }
        }
        return starts.filter { ids.contains(String($0.key)) && $0.value > 1 }.count
    }
}
