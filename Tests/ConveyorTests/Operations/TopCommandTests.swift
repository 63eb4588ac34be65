import Conveyor
import Foundation
import Testing
import TestSupport
#if canImport(Glibc)
import Glibc
#endif

/// `conveyor top`: live in a terminal (driven through tmux: `send-keys`, `capture-pane`), and
/// one plain snapshot when its output is not a terminal.
@Suite("conveyor top")
struct TopCommandTests {
    /// A private tmux server (its own socket), so nothing else on the machine is touched.
    struct Tmux {
        let binary: URL
        let socket = "conveyor-top-\(UUID().uuidString.prefix(8).lowercased())"

        @discardableResult
        func run(_ arguments: [String]) async throws -> String {
            // The first command forks the tmux server, which must not keep the test run's
            // descriptors (the flock ops/test runs under) should it outlive the test.
            let process = try ManagedProcess(binary, ["-L", socket] + arguments, name: "tmux", closeOtherDescriptors: true)
            let status = try await process.waitForExit(timeout: hangGuard)
            guard status == 0 else { throw TimedOut("tmux \(arguments.joined(separator: " ")) exited with \(status): \(process.log)") }
            return process.log
        }

        /// `conveyor top` in a detached session `top` of `columns` by 40; after it, the pane
        /// prints its exit status and the terminal's mode (`stty -a`) and waits for a line.
        func startTop(_ conveyor: URL, queue: String, node: String, columns: Int) async throws {
            let command = [conveyor.path, "top", "--broker", TestEnvironment.brokerURL, "--result-backend", TestEnvironment.resultURL,
                           "--queue", queue, "--hostname", node].map(TopCommandTests.quoted).joined(separator: " ")
            try await run(["new-session", "-d", "-x", "\(columns)", "-y", "40", "-s", "top", "\(command); echo \"top exited $?\"; stty -a; read line"])
        }

        /// Runs `body` with a private tmux server, which is ended afterwards (with everything in
        /// it), whether `body` threw or not.
        static func with<T>(_ body: (Tmux) async throws -> T) async throws -> T {
            let tmux = Tmux(binary: try requireTool("tmux", package: "tmux"))
            do {
                let value = try await body(tmux)
                await tmux.killServer()
                return value
            } catch {
                await tmux.killServer()
                throw error
            }
        }

        /// Ends the server and waits until tmux has said so (a server never started is no error).
        func killServer() async {
            guard let process = try? ManagedProcess(binary, ["-L", socket, "kill-server"], name: "tmux") else { return }
            _ = try? await process.waitForExit(timeout: hangGuard)
        }

        /// Waits until top has exited 0 and the terminal is out of raw mode again: line editing,
        /// echo and signal keys on (`-icanon -echo -isig` while top ran).
        func expectRestored() async throws {
            let after = try await waitFor("top exited and stty printed the mode") { lines in
                lines.contains("top exited 0") && lines.contains { $0.contains("icanon") }
            }
            let modes = Set(after.joined(separator: " ").split(separator: " ").map(String.init))
            #expect(modes.isSuperset(of: ["icanon", "echo", "isig", "icrnl", "ixon"]), "\(after)")
            #expect(modes.isDisjoint(with: ["-icanon", "-echo", "-isig"]), "\(after)")
        }

        /// The pane's visible lines.
        func screen() async throws -> [String] {
            try await run(["capture-pane", "-p", "-t", "top"]).split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        }

        /// Polls the pane until `condition` holds for its lines; returns them.
        @discardableResult
        func waitFor(_ what: String, _ condition: @escaping ([String]) -> Bool) async throws -> [String] {
            var lines: [String] = []
            do {
                try await eventually(timeout: hangGuard, what) {
                    lines = try await screen()
                    return condition(lines)
                }
            } catch {
                throw TimedOut("\(error); the pane showed:\n\(lines.joined(separator: "\n"))")
            }
            return lines
        }
    }

    static func quoted(_ text: String) -> String { "'" + text.replacingOccurrences(of: "'", with: "'\\''") + "'" }

    /// The words of the lines that start with `first`.
    static func rows(_ lines: [String], _ first: String) -> [[String]] {
        lines.map { $0.split(separator: " ").map(String.init) }.filter { $0.first == first }
    }

    /// The words of the first line that starts with `first`.
    static func row(_ lines: [String], _ first: String) -> [String]? {
        rows(lines, first).first
    }

    @Test("in tmux: the worker, its tasks' counts and a running task appear; q quits and the terminal's mode is restored")
    func liveInTmux() async throws {
        try await withWorkerInTmux(label: "top-live", node: "top") { tmux, conveyor, queue, node in
            try await live(tmux, conveyor: conveyor, queue: queue, node: node)
        }
    }

    /// A worker sending events on a private queue (node `NODE@QUEUE`) and a tmux server for
    /// `body`; the worker must then stop cleanly on SIGTERM.
    private func withWorkerInTmux(label: String, node prefix: String,
                                  _ body: @escaping @Sendable (Tmux, URL, String, String) async throws -> Void) async throws {
        try TestEnvironment.requireServices()
        let conveyor = try TestEnvironment.requireBinary("conveyor")
        let queue = TestEnvironment.uniqueQueue(label)
        let node = "\(prefix)@\(queue)"
        let worker = try await startEventsWorker(queue: queue, node: node)
        defer { worker.signal(SIGKILL) }
        try await Tmux.with { tmux in try await body(tmux, conveyor, queue, node) }
        worker.signal(SIGTERM)
        #expect(try await worker.waitForExit(timeout: hangGuard) == 0)
    }

    private func live(_ tmux: Tmux, conveyor: URL, queue: String, node: String) async throws {
        try await tmux.startTop(conveyor, queue: queue, node: node, columns: 160)

        try await tmux.waitFor("the worker listed online") { lines in
            Self.row(lines, node).map { Array($0.prefix(3)) } == [node, "swift", "online"]
        }
        let client = try testClient(queue: queue)
        for index in 0..<3 {
            #expect(try await client.send(taskNamed: "conveyor.add", args: [.int(Int64(index)), 1]).get(timeout: hangGuard) == .int(Int64(index + 1)))
        }
        await #expect(throws: (any Error).self) { try await client.send(taskNamed: "conveyor.fail", args: ["no"]).get(timeout: hangGuard) }
        let lines = try await tmux.waitFor("conveyor.add counted 3 received, 3 succeeded, 0 failed; conveyor.fail 1 failed") { lines in
            Self.row(lines, "conveyor.add").map { Array($0.prefix(5)) } == ["conveyor.add", "3", "3", "0", "0"]
                && Self.row(lines, "conveyor.fail").map { Array($0.prefix(5)) } == ["conveyor.fail", "1", "0", "1", "0"]
        }
        #expect(lines.first?.hasPrefix("conveyor top  ") == true, "\(lines)")
        #expect(lines.first?.contains("(q quits)") == true, "\(lines)")
        #expect(Self.row(lines, queue).map { Array($0.prefix(4)) } == [queue, "0", "1", "0"], "\(lines)")

        // A task that runs until it is revoked: listed with its worker and runtime so far, gone once ended.
        let sleeper = try await client.send(taskNamed: "conveyor.sleep", args: [3600])
        try await tmux.waitFor("the sleeping task listed as running") { lines in
            Self.rows(lines, "conveyor.sleep").contains { Array($0.prefix(3)) == ["conveyor.sleep", sleeper.id, node] }
        }
        try await client.revoke([sleeper.id], terminate: true)
        try await tmux.waitFor("the revoked task no longer running") { lines in
            !Self.rows(lines, "conveyor.sleep").contains { $0.count > 1 && $0[1] == sleeper.id } && lines.contains("  (no task running)")
        }
        await client.close()

        try await tmux.run(["send-keys", "-t", "top", "q"])
        try await tmux.expectRestored()
    }

    @Test("in tmux: a wider window is used at once (SIGWINCH), and SIGTERM quits restoring the terminal")
    func resizeAndTerminate() async throws {
        try await withWorkerInTmux(label: "top-resize", node: "resize") { tmux, conveyor, queue, node in
            try await resizeThenTerminate(tmux, conveyor: conveyor, queue: queue, node: node)
        }
    }

    private func resizeThenTerminate(_ tmux: Tmux, conveyor: URL, queue: String, node: String) async throws {
        try await tmux.startTop(conveyor, queue: queue, node: node, columns: 60)
        // 60 columns cut the summary line before its "(q quits)".
        try await tmux.waitFor("top drawn 60 columns wide") { lines in
            lines.first?.hasPrefix("conveyor top  ") == true && Self.row(lines, node) != nil
        }
        #expect(try await tmux.screen().first?.contains("(q quits)") == false)
        try await tmux.run(["resize-window", "-t", "top", "-x", "160", "-y", "40"])
        try await tmux.waitFor("the summary line drawn whole") { lines in lines.first?.hasSuffix("(q quits)") == true }

        // The pane's shell runs top as its child.
        let shell = try await tmux.run(["display-message", "-p", "-t", "top", "#{pane_pid}"]).trimmingCharacters(in: .whitespacesAndNewlines)
        let children = try String(contentsOfFile: "/proc/\(shell)/task/\(shell)/children", encoding: .utf8)
        let top = try #require(children.split(separator: " ").first.flatMap { Int32($0) }, "no child of the pane's shell \(shell)")
        #expect(kill(top, SIGTERM) == 0)
        try await tmux.expectRestored()
    }

    @Test("with its output piped it prints one plain table (no escape sequences) and exits 0")
    func pipedSnapshot() async throws {
        try TestEnvironment.requireServices()
        let queue = TestEnvironment.uniqueQueue("top-piped")
        let node = "piped@\(queue)"
        let worker = try await startEventsWorker(queue: queue, node: node)
        defer { worker.signal(SIGKILL) }
        // The worker's Redis heartbeat, its woken event heartbeat or its stats answer lists it; on
        // a loaded machine none may be in by the end of the snapshot's second: run again then.
        var output = ""
        var lines: [String] = []
        try await eventually(timeout: hangGuard, "a snapshot listing the worker") {
            let top = try ManagedProcess(try TestEnvironment.requireBinary("conveyor"), ["top", "--queue", queue, "--hostname", node],
                                         environment: ["CONVEYOR_BROKER_URL": TestEnvironment.brokerURL, "CONVEYOR_RESULT_URL": TestEnvironment.resultURL],
                                         name: "conveyor-top")
            #expect(try await top.waitForExit(timeout: hangGuard) == 0, "\(top.log)")
            output = top.log
            lines = output.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
            return Self.row(lines, node) != nil
        }
        #expect(!output.contains("\u{1B}"), "\(output)")
        #expect(lines.first?.hasPrefix("conveyor top  ") == true, "\(output)")
        #expect(lines.first?.contains("q quits") == false, "\(output)")
        for heading in ["WORKER", "TASK", "RUNNING", "QUEUE"] {
            #expect(lines.contains { $0.hasPrefix(heading + " ") }, "\(heading): \(output)")
        }
        #expect(Self.row(lines, node).map { Array($0.prefix(2)) } == [node, "swift"], "\(output)")
        #expect(Self.row(lines, queue).map { Array($0.prefix(4)) } == [queue, "0", "1", "0"], "\(output)")
        worker.signal(SIGTERM)
        #expect(try await worker.waitForExit(timeout: hangGuard) == 0)
    }

    @Test("a broker that cannot be reached: one line on standard error and exit 1, never a hang")
    func brokerDown() async throws {
        let top = try ManagedProcess(try TestEnvironment.requireBinary("conveyor"),
                                     ["top", "--once", "--broker", "amqp://guest:guest@127.0.0.1:1//", "--connect-timeout", "1"], name: "conveyor-top")
        #expect(try await top.waitForExit(timeout: hangGuard) == 1)
        #expect(top.log.hasPrefix("conveyor: broker unavailable: "), "\(top.log)")
    }
}
