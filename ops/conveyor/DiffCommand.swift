import ArgumentParser
import Conveyor
import Foundation

/// `conveyor diff REPOSITORY BASE HEAD`: enqueues `diffs.compute`, waits, prints the patch as
/// `git diff` would (or a `--stat` summary, or the whole result with `--json`).
struct DiffCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "diff", abstract: "Diff two commits of a repository on a worker (diffs.compute) and print it like git diff.",
        discussion: "The patch is git diff --histogram -M -U3 BASE HEAD, byte for byte, unless the worker's limits collapsed files (then a note on standard error says which).")

    @OptionGroup var connection: ConnectionOptions

    @Argument(help: "Repository path relative to the workers' repositories root.")
    var repository: String

    @Argument(help: "Base commit (id, branch, tag or revision expression).")
    var base: String

    @Argument(help: "Head commit.")
    var head: String

    @Flag(help: "Print a summary of changed files, as git diff --stat does.")
    var stat = false

    @Option(help: "Lines of context (0 to 10000).")
    var context: Int = 3

    @Flag(help: "Do not detect renames.")
    var noRenames = false

    @Option(help: "histogram, myers, patience or minimal.")
    var algorithm: String = "histogram"

    @Option(help: "Queue to send to (default: the configured default queue).")
    var queue: String?

    @Option(help: "Seconds to wait for the result.")
    var timeout: Double = 60

    func validate() throws {
        try checkRange(context, "--context", 0...10_000)
        try checkSeconds(timeout, "--timeout")
        guard ["histogram", "myers", "patience", "minimal"].contains(algorithm) else {
            throw ValidationError("--algorithm must be histogram, myers, patience or minimal")
        }
    }

    func run() async throws {
        try await guarded {
            let client = try connection.client()
            defer { Task { await client.close() } }
            try await client.connect(timeout: connection.connectTimeout)
            let kwargs: JSONObject = [
                "repository": .string(repository), "base": .string(base), "head": .string(head),
                "context": .int(Int64(context)), "renames": .bool(!noRenames), "algorithm": .string(algorithm),
            ]
            let handle = try await client.send(taskNamed: "diffs.compute", kwargs: kwargs, options: TaskOptions(queue: queue))
            let result = try await handle.wait(timeout: timeout)
            guard result.state == .success else {
                if connection.json { try ResultCommand.show(result, connection: connection) }
                let reason = result.exception.map { "\($0.type): \($0.message)" } ?? result.state.rawValue
                throw CLIError("diffs.compute failed: \(reason)")
            }
            let diff = result.value
            if connection.json {
                connection.emit(diff)
            } else if stat {
                print(Self.stat(diff), terminator: "")
            } else {
                FileHandle.standardOutput.write(Data(Self.patch(diff)))
            }
            if diff["truncated"] == true {
                let collapsed = diff["files"]?.array?.filter { $0["collapsed"] == true }.count ?? 0
                let listed = diff["files"]?.array?.count ?? 0
                let total = diff["stats"]?["files"]?.int ?? 0
                FileHandle.standardError.write(Data("conveyor: diff truncated by the worker's limits: \(collapsed) file(s) shown as counts only, \(Int64(listed) < total ? "\(total - Int64(listed)) not listed" : "all listed")\n".utf8))
            }
        }
    }

    /// The patch bytes, whichever encoding they travelled in.
    static func patch(_ diff: JSON) -> [UInt8] {
        guard let text = diff["patch"]?.string else { return [] }
        if diff["patch_encoding"] == "base64" { return Data(base64Encoded: text).map { [UInt8]($0) } ?? [] }
        return Array(text.utf8)
    }

    /// `git diff --stat`'s layout: name, change count, a bar of + and - at most 50 wide, a summary.
    static func stat(_ diff: JSON) -> String {
        let files = diff["files"]?.array ?? []
        let rows = files.map { file -> (name: String, count: String, plus: Int, minus: Int) in
            let path = file["path"]?.string ?? ""
            let old = file["old_path"]?.string
            let name = (old != nil && old != path) ? "\(old ?? "") => \(path)" : path
            let additions = Int(file["additions"]?.int ?? 0)
            let deletions = Int(file["deletions"]?.int ?? 0)
            return (name, file["binary"] == true ? "Bin" : String(additions + deletions), additions, deletions)
        }
        let nameWidth = rows.map(\.name.count).max() ?? 0
        let countWidth = rows.map(\.count.count).max() ?? 0
        let largest = rows.map { $0.plus + $0.minus }.max() ?? 0
        let barWidth = max(1, min(50, 80 - nameWidth - countWidth - 6))
        var out = ""
        for row in rows {
            var plus = row.plus
            var minus = row.minus
            if largest > barWidth {
                // Scaled as git scales: every non-zero side keeps at least one mark.
                plus = row.plus == 0 ? 0 : max(1, row.plus * barWidth / largest)
                minus = row.minus == 0 ? 0 : max(1, row.minus * barWidth / largest)
            }
            let name = row.name.padding(toLength: nameWidth, withPad: " ", startingAt: 0)
            let count = String(repeating: " ", count: countWidth - row.count.count) + row.count
            let bar = row.count == "Bin" || plus + minus == 0 ? "" : " " + String(repeating: "+", count: plus) + String(repeating: "-", count: minus)
            out += " \(name) | \(count)\(bar)\n"
        }
        let total = Int(diff["stats"]?["files"]?.int ?? 0)
        let insertions = Int(diff["stats"]?["additions"]?.int ?? 0)
        let deletions = Int(diff["stats"]?["deletions"]?.int ?? 0)
        var summary = " \(total) file\(total == 1 ? "" : "s") changed"
        if insertions > 0 || deletions == 0 { summary += ", \(insertions) insertion\(insertions == 1 ? "" : "s")(+)" }
        if deletions > 0 || insertions == 0 { summary += ", \(deletions) deletion\(deletions == 1 ? "" : "s")(-)" }
        return total == 0 ? "" : out + summary + "\n"
    }
}
