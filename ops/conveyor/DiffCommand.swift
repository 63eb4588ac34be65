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
                print(DiffStat(diff).render(width: DiffStat.terminalColumns()), terminator: "")
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
}
