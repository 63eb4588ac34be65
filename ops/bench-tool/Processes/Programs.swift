import Foundation

/// What the C ceiling and the Python client print when they finish a timed run.
struct TimedRun: Decodable, Sendable {
    var count: Int
    var seconds: Double
    var failed: Int?

    var rate: Double { Double(count) / seconds }
}

/// What `bench_celery.py rtt` prints.
struct LatencyRun: Decodable, Sendable {
    var latencies: [UInt64]

    enum CodingKeys: String, CodingKey {
        case latencies = "latencies_us"
    }
}

extension BenchContext {
    /// Runs a program to completion (at most `timeout` s) and decodes the JSON line it prints.
    func runProgram<T: Decodable>(_ label: String, _ executable: URL, _ arguments: [String], environment: [String: String] = [:],
                                  timeout: Double = 300, as type: T.Type) async throws -> T {
        let output = log(label + ".out")
        try? FileManager.default.removeItem(at: output)
        let process = try BenchProcess(name: label, executable: executable.path, arguments: arguments, environment: environment,
                                       log: log(label), standardOutput: output)
        let status = try await process.waitForExit(timeout: timeout)
        guard status == 0 else { throw BenchError("\(label) exited with status \(status):\n\(process.tail())") }
        let data = (try? Data(contentsOf: output)) ?? Data()
        guard let line = data.split(separator: UInt8(ascii: "\n")).last else { throw BenchError("\(label) printed nothing") }
        do {
            return try JSONDecoder().decode(T.self, from: Data(line))
        } catch {
            throw BenchError("\(label) printed something unexpected: \(String(decoding: line.prefix(200), as: UTF8.self))")
        }
    }

    /// Runs `bench_celery.py MODE` (the Python Celery 5.7 client).
    func runCeleryClient<T: Decodable>(_ mode: String, queue: String, count: Int, warmup: Int, confirm: Bool = false,
                                       label: String, as type: T.Type) async throws -> T {
        var environment = pythonEnvironment
        if confirm { environment["BENCH_CELERY_CONFIRM"] = "1" }
        let script = paths.library.appendingPathComponent("bench_celery.py")
        return try await runProgram(label, paths.python, [script.path, mode, "--queue", queue, "--count", "\(count)", "--warmup", "\(warmup)"],
                                    environment: environment, as: type)
    }

    /// Runs `conveyor-ceiling ARGUMENTS` with this run's server addresses.
    func runCeiling(_ arguments: [String], label: String) async throws -> TimedRun {
        try await runProgram(label, paths.ceiling, arguments + ceilingConnectionArguments, as: TimedRun.self)
    }
}
