import ArgumentParser
import Conveyor
import Foundation

struct DeadCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dead", abstract: "See and steer a queue's dead letters (QUEUE or QUEUE.dead).",
        subcommands: [List.self, Show.self, Replay.self, Drop.self])

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List dead letters with their reasons (they stay in place).")
        @OptionGroup var connection: ConnectionOptions
        @Argument(help: "The work queue (or its .dead queue).") var queue: String
        @Option(help: "Show at most this many.") var limit: Int = 50

        func validate() throws { try checkLimit(limit) }

        func run() async throws {
            try await guarded {
                let client = try connection.client()
                defer { Task { await client.close() } }
                try await client.connectBroker(timeout: connection.connectTimeout)
                let letters = try await DeadLetterBox(client: client).list(queue: queue, limit: limit)
                if connection.json {
                    connection.emit(.array(letters.map(DeadView.json)))
                    return
                }
                if letters.isEmpty { print("no dead letters in \(DeadLetterBox.deadLetterQueue(for: queue))") }
                for letter in letters { print(DeadView.line(letter)) }
            }
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show one dead letter: headers, reason and body.")
        @OptionGroup var connection: ConnectionOptions
        @Argument(help: "The work queue (or its .dead queue).") var queue: String
        @Argument(help: "The task id.") var id: String
        @Option(help: "Look through at most this many dead letters.") var limit: Int = 10_000

        func validate() throws { try checkLimit(limit) }

        func run() async throws {
            try await guarded {
                let client = try connection.client()
                defer { Task { await client.close() } }
                try await client.connectBroker(timeout: connection.connectTimeout)
                let letters = try await DeadLetterBox(client: client).list(queue: queue, limit: limit)
                guard let letter = letters.first(where: { $0.taskId == id }) else {
                    throw CLIError("no dead letter for task \(id) in \(DeadLetterBox.deadLetterQueue(for: queue))")
                }
                var json = DeadView.json(letter)
                if case var .object(object) = json {
                    var headers = JSONObject()
                    for entry in letter.properties.headers ?? [:] { headers[entry.key] = DeadView.json(entry.value) }
                    object["headers"] = .object(headers)
                    object["content_type"] = letter.properties.contentType.map(JSON.string) ?? .null
                    let preview = letter.body.prefix(4096)
                    object["body"] = .string(String(decoding: preview, as: UTF8.self) + (letter.body.count > 4096 ? "…" : ""))
                    json = .object(object)
                }
                if connection.json { connection.emit(json) } else { print(String(decoding: json.serialized(.compact), as: UTF8.self)) }
            }
        }
    }

    struct Replay: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Send dead letters back to their origin queue to run again.")
        @OptionGroup var connection: ConnectionOptions
        @Argument(help: "The work queue (or its .dead queue).") var queue: String
        @Option(name: .customLong("id"), help: "Only this task id (repeatable).") var ids: [String] = []
        @Flag(help: "Replay every dead letter in the queue.") var all = false

        func run() async throws {
            try await guarded {
                guard all || !ids.isEmpty else { throw CLIError("name tasks with --id ID, or pass --all", exitCode: 2) }
                let client = try connection.client()
                defer { Task { await client.close() } }
                try await client.connect(timeout: connection.connectTimeout)
                let count = try await DeadLetterBox(client: client).replay(queue: queue, taskIds: all ? nil : Set(ids))
                if connection.json { connection.emit(["replayed": .int(Int64(count))]) } else { print("replayed \(count)") }
                try DeadView.checkFound(count, of: all ? nil : ids)
            }
        }
    }

    struct Drop: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Delete dead letters for good.")
        @OptionGroup var connection: ConnectionOptions
        @Argument(help: "The work queue (or its .dead queue).") var queue: String
        @Option(name: .customLong("id"), help: "Only this task id (repeatable).") var ids: [String] = []
        @Flag(help: "Drop every dead letter in the queue.") var all = false
        @Flag(help: "Confirm: dropped messages cannot be recovered.") var yes = false

        func run() async throws {
            try await guarded {
                guard all || !ids.isEmpty else { throw CLIError("name tasks with --id ID, or pass --all", exitCode: 2) }
                guard yes else { throw CLIError("refusing to drop dead letters without --yes", exitCode: 2) }
                let client = try connection.client()
                defer { Task { await client.close() } }
                try await client.connectBroker(timeout: connection.connectTimeout)
                let count = try await DeadLetterBox(client: client).drop(queue: queue, taskIds: all ? nil : Set(ids))
                if connection.json { connection.emit(["dropped": .int(Int64(count))]) } else { print("dropped \(count)") }
                try DeadView.checkFound(count, of: all ? nil : ids)
            }
        }
    }
}

/// `--limit` counts letters: at least one.
private func checkLimit(_ limit: Int) throws {
    guard limit >= 1 else { throw ValidationError("--limit must be at least 1") }
}

/// How dead letters are shown.
enum DeadView {
    /// Fewer letters than task ids named: some are not there (or not among the first 10,000).
    static func checkFound(_ count: Int, of ids: [String]?) throws {
        guard let ids, count < Set(ids).count else { return }
        throw CLIError("\(Set(ids).count - count) of the \(Set(ids).count) named tasks have no dead letter here (or not among the first 10,000)")
    }

    static func json(_ letter: DeadLetter) -> JSON {
        [
            "task_id": letter.taskId.map(JSON.string) ?? .null, "task": letter.task.map(JSON.string) ?? .null,
            "reason": .string(letter.reason), "error": .string(letter.error),
            "dead_at": letter.deadAt.map { .string(ISO8601.format($0)) } ?? .null,
            "origin_queue": letter.originQueue.map(JSON.string) ?? .null, "worker": letter.worker.map(JSON.string) ?? .null,
            "body_bytes": .int(Int64(letter.body.count)),
        ]
    }

    static func line(_ letter: DeadLetter) -> String {
        let when = letter.deadAt.map(ISO8601.format) ?? "?"
        return "\(letter.taskId ?? "-")  \(letter.task ?? "-")  \(letter.reason)  \(when)  \(letter.error)"
    }

    static func json(_ value: FieldValue) -> JSON {
        switch value {
        case let .bool(b): return .bool(b)
        case let .string(s): return .string(s)
        case let .bytes(b): return .string(String(decoding: b, as: UTF8.self))
        case let .array(items): return .array(items.map(json))
        case let .table(table):
            var object = JSONObject()
            for entry in table { object[entry.key] = json(entry.value) }
            return .object(object)
        case .void: return .null
        case .float, .double, .decimal: return .double(value.doubleValue ?? 0)
        default: return value.intValue.map(JSON.int) ?? .null
        }
    }
}
