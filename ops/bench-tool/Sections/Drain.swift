import Foundation

/// One end-to-end run: how fast the workers emptied the queue into Redis, and their peak memory.
struct DrainRun: Sendable {
    var rate: Double
    var peakMegabytes: Double
    /// With `countShares`: tasks each Conveyor worker process reported succeeded when it stopped
    /// (its "worker stopped" log line, at info), in start order; otherwise empty.
    var succeeded: [Int] = []
}

extension BenchContext {
    /// Queues `count` tasks (untimed), starts `processes` consumers of `kind` at once, and
    /// measures from the first one's ready line to the `date_done` of the last result stored in
    /// Redis; startup is excluded. When a worker is so fast that its first result is stored
    /// before the ready line was noticed (polled every 2 ms), the first result starts the clock.
    func drain(_ kind: WorkerKind, processes: Int = 1, count: Int, payload: Int? = nil, label: String,
               timeout: Double = 300, countShares: Bool = false) async throws -> DrainRun {
        try await withQueue("e2e") { queue in
            let ids = try await enqueue(count, queue: queue, payload: payload)
            var workers: [StartedWorker] = []
            do {
                workers = try await withThrowingTaskGroup(of: StartedWorker.self) { group in
                    for number in 1...processes {
                        group.addTask { try await self.startWorker(kind, queue: queue, label: "\(label)-\(number)") }
                    }
                    return try await group.reduce(into: []) { $0.append($1) }
                }
                let sampler = MemorySampler(roots: workers.map(\.process.pid))
                let ready = workers.map(\.readyAt.wall).min() ?? Date()
                let done = try await waitForResults(ids, timeout: timeout)
                let peak = sampler.stop()
                try await stop(workers, kind: kind)
                var succeeded: [Int] = []
                if case .conveyor = kind, countShares { succeeded = try workers.map(Self.succeededCount) }
                await deleteResults(ids)
                let seconds = done.upperBound.timeIntervalSince(min(ready, done.lowerBound))
                guard seconds > 0 else { throw BenchError("all \(count) results carry the same date_done; too few tasks to time") }
                return DrainRun(rate: Double(count) / seconds, peakMegabytes: peak, succeeded: succeeded)
            } catch {
                for worker in workers { await worker.process.stop(grace: 5) }
                await deleteResults(ids)
                throw error
            }
        }
    }

    /// The `succeeded=N` of a stopped Conveyor worker's "worker stopped" log line.
    private static func succeededCount(_ worker: StartedWorker) throws -> Int {
        let text = (try? String(contentsOf: worker.process.log, encoding: .utf8)) ?? ""
        guard let line = text.split(separator: "\n").last(where: { $0.contains("msg=\"worker stopped\"") }),
              let field = line.split(separator: " ").first(where: { $0.hasPrefix("succeeded=") }),
              let count = Int(field.dropFirst("succeeded=".count)), count >= 0
        else { throw BenchError("\(worker.process.name) logged no 'worker stopped' line with succeeded=N:\n\(worker.process.tail())") }
        return count
    }

    /// Stops workers after a run: the ceiling exits by itself, daemons get a warm shutdown.
    private func stop(_ workers: [StartedWorker], kind: WorkerKind) async throws {
        for worker in workers {
            if case .ceiling = kind {
                let status = try await worker.process.waitForExit(timeout: 30)
                guard status == 0 else { throw BenchError("\(worker.process.name) exited \(status):\n\(worker.process.tail())") }
            } else {
                await worker.process.stop()
            }
        }
    }
}
