@testable import Conveyor
import Foundation
import Testing
import TestSupport

@Suite("conveyor locks: what operators see")
struct LocksCommandTests {
    private func run(_ arguments: [String]) async throws -> (Int32, String) {
        let process = try ManagedProcess(try TestEnvironment.requireBinary("conveyor"), arguments)
        let status = try await process.waitForExit(timeout: 60)
        return (status, process.log)
    }

    @Test("lists a held lock with holder, token and time left, and a cap's slots, as text and --json")
    func listsLocksAndCaps() async throws {
        let client = try testClient(queue: TestEnvironment.uniqueQueue("locks-cli"))
        let prefix = uniqueLockName("cli")
        let lease = try #require(try await client.locks.tryAcquire(prefix + ":repo", lease: .seconds(60)))
        let slot = try #require(try await ConcurrencyCaps(client: client).tryAcquire(prefix + ":cap", limit: 2, lease: .seconds(60)))
        let (status, output) = try await run(["locks", prefix, "--json"])
        #expect(status == 0, "\(output)")
        let line = try #require(output.split(separator: "\n").last)
        let json = try JSON.parse(Array(line.utf8))
        let lock = try #require(json["locks"]?.array?.first)
        #expect(lock["name"] == .string(prefix + ":repo"))
        #expect(lock["token"] == .int(lease.token))
        #expect(lock["holder"] == .string(lease.holder))
        #expect((lock["ms_left"]?.int ?? 0) > 0)
        #expect(json["caps"]?.array?.first?["held"] == 1)
        let (textStatus, text) = try await run(["locks", prefix])
        #expect(textStatus == 0)
        #expect(text.contains("token=\(lease.token)"), "\(text)")
        try await lease.release()
        try await slot.release()
        let (_, empty) = try await run(["locks", prefix])
        #expect(empty.contains("no locks held"), "\(empty)")
        await client.close()
    }

    @Test("bad usage exits 2", arguments: [["locks", "--limit", "0"], ["locks", String(repeating: "p", count: 600)]])
    func badUsage(arguments: [String]) async throws {
        let (status, output) = try await run(arguments)
        #expect(status == 2, "\(output)")
    }
}
