import ArgumentParser
import Conveyor
import Foundation

/// `conveyor search REPOSITORY QUERY`: enqueues `repos.search`, waits, prints the matching lines
/// as `git grep -n` does (`path:line:text`), or the whole result with `--json`.
struct SearchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "search", abstract: "Search a repository on a worker (repos.search) and print matches like git grep -n.",
        discussion: "The lines are those git grep -n -I prints for the same commit (-F, or -E with --regex). When the limit or the worker's deadline cut the search short, a note on standard error says so.")

    @OptionGroup var connection: ConnectionOptions

    @Argument(help: "Repository path relative to the workers' repositories root.")
    var repository: String

    @Argument(help: "What to look for: a fixed string, or with --regex a POSIX extended regular expression.")
    var query: String

    @Flag(help: "Read QUERY as a POSIX extended regular expression (git grep -E).")
    var regex = false

    @Flag(name: [.customShort("i"), .customLong("ignore-case")], help: "ASCII letters match either case (git grep -i).")
    var ignoreCase = false

    @Option(help: "Only files this git pathspec matches (a directory, a file, or a glob such as '*.swift').")
    var path: String?

    @Option(help: "Commit to search (default: the latest indexed commit, or HEAD).")
    var ref: String?

    @Option(help: "Matching lines printed at most (1 to 10000).")
    var limit: Int = 100

    @Option(help: "Queue to send to (default: the configured default queue).")
    var queue: String?

    @Option(help: "Seconds to wait for the result.")
    var timeout: Double = 60

    func validate() throws {
        try checkRange(limit, "--limit", 1...10_000)
        try checkSeconds(timeout, "--timeout")
    }

    func run() async throws {
        try await guarded {
            let client = try connection.client()
            defer { Task { await client.close() } }
            try await client.connect(timeout: connection.connectTimeout)
            var kwargs: JSONObject = [
                "repository": .string(repository), "query": .string(query), "regex": .bool(regex),
                "ignore_case": .bool(ignoreCase), "limit": .int(Int64(limit)),
            ]
            if let path { kwargs["path"] = .string(path) }
            if let ref { kwargs["ref"] = .string(ref) }
            let handle = try await client.send(taskNamed: "repos.search", kwargs: kwargs, options: TaskOptions(queue: queue))
            let result = try await handle.wait(timeout: timeout)
            guard result.state == .success else {
                if connection.json { try ResultCommand.show(result, connection: connection) }
                let reason = result.exception.map { "\($0.type): \($0.message)" } ?? result.state.rawValue
                throw CLIError("repos.search failed: \(reason)")
            }
            let found = result.value
            if connection.json {
                connection.emit(found)
            } else {
                FileHandle.standardOutput.write(Data(Self.lines(found)))
            }
            if found["truncated"] == true {
                let shown = found["matches"]?.array?.count ?? 0
                FileHandle.standardError.write(Data("conveyor: search truncated after \(shown) matching line(s) (limit \(limit) or the worker's deadline)\n".utf8))
            }
        }
    }

    /// `path:line:text` per match, exact bytes when the worker sent them in base64.
    static func lines(_ found: JSON) -> [UInt8] {
        var out: [UInt8] = []
        for match in found["matches"]?.array ?? [] {
            out += bytes(match, "path") + Array(":\(match["line"]?.int ?? 0):".utf8) + bytes(match, "text") + [UInt8(ascii: "\n")]
        }
        return out
    }

    private static func bytes(_ match: JSON, _ field: String) -> [UInt8] {
        if let encoded = match["\(field)_base64"]?.string, let data = Data(base64Encoded: encoded) { return [UInt8](data) }
        return Array((match[field]?.string ?? "").utf8)
    }
}
