import ArgumentParser
import CommandLineSupport
import Conveyor
import Foundation
import Logging

/// `conveyor-demo`: enqueues a few thousand tasks from Swift with a progress line, then follows
/// them to their results. Used by `ops/demo`.
@main
struct DemoEnqueuer: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "conveyor-demo", abstract: "Enqueue N diagnostic tasks and follow them to their results.")

    /// Runs the command; bad usage exits 2 with one line, as the other binaries do.
    static func main() async {
        await mainExitingTwoOnBadUsage(name: "conveyor-demo")
    }

    @Option(help: "How many tasks (1 to 10000000).")
    var count: Int = 3000

    @Option(help: "Tasks per batch publish (1 to 100000).")
    var batch: Int = 500

    @Option(help: "Queue to send to (default: the configured default queue).")
    var queue: String?

    @Option(help: "Seconds to wait for every result (1 to 86400).")
    var timeout: Double = 120

    func validate() throws {
        let problems = [OptionCheck.outside(count, "--count", 1...10_000_000), OptionCheck.outside(batch, "--batch", 1...100_000),
                        OptionCheck.outside(timeout, "--timeout", 1...86_400)]
        if let problem = problems.compactMap({ $0 }).first { throw ValidationError(problem) }
    }

    func run() async throws {
        var logger = Logger(label: "conveyor.demo")
        logger.logLevel = .error
        let client = try ConveyorClient(name: "conveyor-demo", logger: logger)
        try await client.connect()
        let started = Date()
        var ids: [String] = []
        var failures = 0
        for start in stride(from: 0, to: count, by: batch) {
            let size = min(batch, count - start)
            let requests = (0..<size).map { offset in
                ConveyorClient.Request(name: "conveyor.add", args: [.int(Int64(start + offset)), 1], options: TaskOptions(queue: queue))
            }
            for outcome in await client.send(batch: requests) {
                switch outcome {
                case let .success(handle): ids.append(handle.id)
                case .failure: failures += 1
                }
            }
            progress("enqueued \(ids.count)/\(count) (confirmed by the broker)")
        }
        let enqueueSeconds = Date().timeIntervalSince(started)
        print("")
        var done = 0
        var failed = 0
        let deadline = Date().addingTimeInterval(timeout)
        var pending = ids
        while !pending.isEmpty && Date() < deadline {
            let results = try await client.results(for: pending)
            pending = []
            for result in results {
                if result.state == .success { done += 1 } else if result.state.isReady { failed += 1 } else { pending.append(result.id) }
            }
            progress("finished \(done + failed)/\(ids.count), \(failed) failed")
            if !pending.isEmpty { try await Task.sleep(for: .milliseconds(200)) }
        }
        print("")
        let total = Date().timeIntervalSince(started)
        print(String(format: "enqueued %d tasks in %.2f s (%.0f/s); all %d results in %.2f s (%.0f tasks/s end to end)",
                     ids.count, enqueueSeconds, Double(ids.count) / enqueueSeconds, done, total, Double(done) / total))
        if let sample = ids.last { print("last task id: \(sample)") }
        await client.close()
        if failures > 0 || failed > 0 || !pending.isEmpty {
            FileHandle.standardError.write(Data("conveyor-demo: \(failures) not enqueued, \(failed) failed, \(pending.count) unfinished\n".utf8))
            throw ExitCode.failure
        }
    }

    private func progress(_ text: String) {
        FileHandle.standardOutput.write(Data("\r\u{1B}[K\(text)".utf8))
    }
}
