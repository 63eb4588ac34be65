import Conveyor
import Foundation

/// The tasks every row sends: `conveyor.add(i, 1)`, or `conveyor.echo("xxx…")` with a payload of
/// a given size. Python Celery and the C ceiling build the same messages.
enum BenchTask {
    static func request(_ index: Int, payload: Int?, queue: String) -> ConveyorClient.Request {
        if let payload {
            return ConveyorClient.Request(name: "conveyor.echo", args: [.string(String(repeating: "x", count: payload))],
                                          options: TaskOptions(queue: queue))
        }
        return ConveyorClient.Request(name: "conveyor.add", args: [.int(Int64(index)), 1], options: TaskOptions(queue: queue))
    }
}

extension BenchContext {
    /// Runs `body` with a fresh queue declared as Celery declares it, then deletes the queue.
    func withQueue<T>(_ row: String, _ body: (String) async throws -> T) async throws -> T {
        let queue = queue(row)
        try await client.declare(queue: queue)
        do {
            let value = try await body(queue)
            await deleteQueues([queue])
            return value
        } catch {
            await deleteQueues([queue])
            throw error
        }
    }

    /// Sends `count` tasks in confirmed batches (not timed: the set-up of the end-to-end rows).
    /// - Returns: their ids, in order.
    func enqueue(_ count: Int, queue: String, payload: Int? = nil) async throws -> [String] {
        var ids: [String] = []
        ids.reserveCapacity(count)
        for start in stride(from: 0, to: count, by: 2_000) {
            let requests = (start..<min(start + 2_000, count)).map { BenchTask.request($0, payload: payload, queue: queue) }
            for outcome in await client.send(batch: requests) {
                switch outcome {
                case let .success(handle):
                    ids.append(handle.id)
                    track([handle.id])
                case let .failure(error): throw BenchError("enqueue to \(queue) failed: \(error)")
                }
            }
        }
        return ids
    }

    /// Records one repetition of a row, or its error.
    func measure(_ key: String, _ body: () async throws -> Double) async {
        do {
            report.record(key, try await body())
        } catch {
            report.fail(key, error)
        }
    }
}
