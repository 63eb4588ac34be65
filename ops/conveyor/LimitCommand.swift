import ArgumentParser
import Conveyor
import Foundation

/// `conveyor limit set|list|clear`: fleet-wide rate limits at run time. Workers read a change
/// within a second, without a restart; a run-time limit replaces the task's limit in code.
struct LimitCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "limit", abstract: "Set, list and clear tasks' rate limits at run time (every worker applies a change within a second).",
        subcommands: [Set.self, List.self, Clear.self])

    struct Set: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Limit how often TASK starts across the fleet (replaces its limit in code).",
            discussion: "RATE is Celery's form: 10/s, 100/m, 1000/h. Over the limit a task waits in the delay cascade (PENDING, not a retry).")
        @OptionGroup var connection: ConnectionOptions
        @Argument(help: "The task name (1 to 200 bytes).") var task: String
        @Argument(help: "COUNT/UNIT with UNIT s, m or h.") var rate: String
        @Option(help: "Tasks that may start at once after a quiet spell (1 to 10000, default 1).") var burst: Int = 1
        @Option(help: "Limit each value of this argument on its own: a keyword name, a position (0), or both (1:domain).")
        var perArg: String?
        @Option(help: "fleet (default: across all workers) or worker (Celery's meaning: on each worker).") var scope: String = "fleet"

        func validate() throws {
            guard let scope = RateLimit.Scope(rawValue: scope) else { throw ValidationError("--scope must be fleet or worker, not \(scope)") }
            do {
                try RateLimitSettings.check(task: task)
                _ = try RateLimit(rate, burst: burst, perArgument: perArg, scope: scope)
            } catch let error as ConveyorError {
                throw ValidationError(error.message)
            }
        }

        func run() async throws {
            try await guarded {
                let limit = try RateLimit(rate, burst: burst, perArgument: perArg, scope: RateLimit.Scope(rawValue: scope) ?? .fleet)
                let client = try connection.client()
                defer { Task { await client.close() } }
                try await RateLimitSettings(client: client).set(limit, for: task)
                if connection.json {
                    connection.emit(LimitView.json(task: task, limit: limit))
                } else {
                    print("limited \(task) to \(limit)")
                }
            }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List the run-time rate limits, and how many runs the fleet deferred by a limit.",
            discussion: "Limits set only in code (TaskDefaults.rateLimit) are not listed: each worker holds its own.")
        @OptionGroup var connection: ConnectionOptions

        func run() async throws {
            try await guarded {
                let client = try connection.client()
                defer { Task { await client.close() } }
                let entries = try await RateLimitSettings(client: client).list()
                let workers = try await Fleet(client: client).workers()
                let deferred = workers.map { $0.deferred["rate-limit"] ?? 0 }.reduce(0, +)
                if connection.json {
                    connection.emit([
                        "limits": .array(entries.map(LimitView.json)),
                        "deferred_by_rate_limit": .int(Int64(deferred)),
                        "workers": .object(JSONObject(workers.map { (key: $0.hostname, value: JSON.int(Int64($0.deferred["rate-limit"] ?? 0))) })),
                    ])
                    return
                }
                if entries.isEmpty { print("no run-time rate limits") }
                for entry in entries { print(LimitView.line(entry)) }
                print("deferred by rate limit: \(deferred) (across \(workers.count) worker\(workers.count == 1 ? "" : "s") online)")
            }
        }
    }

    struct Clear: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Remove TASK's run-time rate limit (its limit in code, if any, applies again).")
        @OptionGroup var connection: ConnectionOptions
        @Argument(help: "The task name.") var task: String

        func validate() throws {
            do { try RateLimitSettings.check(task: task) } catch let error as ConveyorError { throw ValidationError(error.message) }
        }

        func run() async throws {
            try await guarded {
                let client = try connection.client()
                defer { Task { await client.close() } }
                let removed = try await RateLimitSettings(client: client).clear(task: task)
                if connection.json {
                    connection.emit(["task": .string(task), "cleared": .bool(removed)])
                } else {
                    print(removed ? "cleared the rate limit of \(task)" : "\(task) had no run-time rate limit")
                }
            }
        }
    }
}

/// How `conveyor limit` shows a limit.
enum LimitView {
    static func json(task: String, limit: RateLimit) -> JSON {
        [
            "task": .string(task), "rate": .string(limit.rate), "burst": .int(Int64(limit.burst)),
            "per_arg": limit.perArgument.map { .string($0.description) } ?? .null, "scope": .string(limit.scope.rawValue),
        ]
    }

    static func json(_ entry: RateLimitSettings.Entry) -> JSON {
        guard let limit = entry.limit else { return ["task": .string(entry.task), "problem": .string(entry.problem ?? "unreadable")] }
        return json(task: entry.task, limit: limit)
    }

    static func line(_ entry: RateLimitSettings.Entry) -> String {
        guard let limit = entry.limit else { return "\(entry.task)  UNUSABLE: \(entry.problem ?? "unreadable") (its limit in code applies)" }
        return "\(entry.task)  \(limit)"
    }
}
