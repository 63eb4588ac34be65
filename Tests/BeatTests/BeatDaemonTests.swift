import Beat
import Conveyor
import Foundation
import Testing
import TestSupport
#if canImport(Glibc)
import Glibc
#endif

@Suite("Beat: the conveyor beat daemon reloads on SIGHUP and releases the lead on SIGTERM")
struct BeatDaemonTests {
    private func file(_ name: String, queue: String, entry: String, every: String) -> String {
        "name: \(name)\nlease: 30\nentries:\n  \(entry):\n    task: conveyor.echo\n    queue: \(queue)\n    every: \(every)\n"
    }

    @Test("a bad file on SIGHUP is refused with its line and the running schedule stays; a good one replaces it; SIGTERM frees the lead")
    func reload() async throws {
        try TestEnvironment.requireServices()
        let binary = try TestEnvironment.requireBinary("conveyor")
        let queue = TestEnvironment.uniqueQueue("beat-daemon")
        let name = "test-\(TestEnvironment.run)-daemon-\(UUID().uuidString.prefix(8).lowercased())"
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("\(name).yaml")
        defer { try? FileManager.default.removeItem(at: path) }
        try file(name, queue: queue, entry: "first", every: "0.5").write(to: path, atomically: true, encoding: .utf8)
        let client = try testClient(queue: queue)
        let beat = try ManagedProcess(binary, ["beat", "--schedule", path.path, "--hostname", "daemon-test", "--log-level", "info"],
                                      environment: ["CONVEYOR_BROKER_URL": TestEnvironment.brokerURL, "CONVEYOR_RESULT_URL": TestEnvironment.resultURL],
                                      name: "beat")
        try await beat.waitForLog("task_id=beat:\(name):first:", timeout: hangGuard)

        try file(name, queue: queue, entry: "second", every: "0").write(to: path, atomically: true, encoding: .utf8)
        beat.signal(SIGHUP)
        try await beat.waitForLog("schedule refused", timeout: hangGuard)
        #expect(beat.log.contains("line 7: entry second: every must be a number"))
        let sentBefore = beat.log.components(separatedBy: "task_id=beat:\(name):first:").count
        try await eventually(timeout: hangGuard, "the old schedule still sending") {
            beat.log.components(separatedBy: "task_id=beat:\(name):first:").count > sentBefore + 1
        }

        try file(name, queue: queue, entry: "second", every: "0.5").write(to: path, atomically: true, encoding: .utf8)
        beat.signal(SIGHUP)
        try await beat.waitForLog("task_id=beat:\(name):second:", timeout: hangGuard)
        #expect(beat.log.contains("schedule reloaded"))

        let lock = "beat:\(name)"
        #expect(try await client.locks.list(prefix: lock).map(\.holder) == ["daemon-test"])
        // Every half second the leader claims a run (last_sent false) and then sends it (true): a
        // list can fall between the two, so it is read again until it shows a run sent.
        var shown: JSON = .null
        try await eventually(timeout: hangGuard, "beat list shows the second entry's last run sent") {
            let list = try ManagedProcess(binary, ["beat", "list", "--schedule", path.path, "--json"], name: "beat-list")
            guard try await list.waitForExit(timeout: hangGuard) == 0 else { return false }
            shown = try JSON.parse(list.log)
            return shown["entries"]?[0]?["last_sent"] == true
        }
        #expect(shown["leader"]?["holder"] == "daemon-test")
        #expect(shown["entries"]?[0]?["name"] == "second")
        #expect(shown["entries"]?[0]?["last"]?.string.flatMap(ISO8601.parse) != nil)
        beat.signal(SIGTERM)
        #expect(try await beat.waitForExit(timeout: hangGuard) == 0)
        #expect(beat.log.contains("beat stopped"))
        // Released, not left to expire: the 30 s lease would still run otherwise.
        #expect(try await client.locks.list(prefix: lock).isEmpty)
        for entry in ["first", "second"] { try await client.keyValues.delete("beat:\(name):\(entry)") }
        await client.close()
    }

    @Test("a missing or bad schedule file exits 2 naming the line; an unknown entry for run-now exits 1", arguments: [
        (["beat", "--schedule", "/nonexistent/beat.yaml"], Int32(2), "cannot read /nonexistent/beat.yaml"),
        (["beat", "list", "--schedule", "BAD"], 2, "line 4: entry a: cron minute '61'"),
        (["beat", "run-now", "--schedule", "BAD", "a"], 2, "line 4"),
        (["beat", "run-now", "--schedule", "GOOD", "nosuch"], 1, "no entry named nosuch"),
        (["beat", "--schedule", "GOOD", "--log-level", "loud"], 2, "unknown log level"),
    ])
    func usage(arguments: [String], status: Int32, message: String) async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("beat-usage-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let bad = directory.appendingPathComponent("bad.yaml"), good = directory.appendingPathComponent("good.yaml")
        try "entries:\n  a:\n    task: t\n    cron: \"61 * * * *\"\n".write(to: bad, atomically: true, encoding: .utf8)
        try "entries:\n  a:\n    task: t\n    every: 60\n".write(to: good, atomically: true, encoding: .utf8)
        let process = try ManagedProcess(try TestEnvironment.requireBinary("conveyor"),
                                         arguments.map { $0 == "BAD" ? bad.path : $0 == "GOOD" ? good.path : $0 }, name: "beat-usage")
        #expect(try await process.waitForExit(timeout: hangGuard) == status, "\(arguments): \(process.log)")
        #expect(process.log.contains(message), "\(arguments): \(process.log)")
    }
}
