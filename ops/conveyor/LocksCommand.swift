import ArgumentParser
import Conveyor
import Foundation

struct LocksCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "locks",
        abstract: "List held locks (name, holder, fencing token, lease left) and concurrency caps' slots.")

    @OptionGroup var connection: ConnectionOptions

    @Argument(help: "Only locks and caps whose names start with this.")
    var prefix: String = ""

    @Option(help: "Most locks (and most caps) to list (1 to 1000000).")
    var limit: Int = 10_000

    func validate() throws {
        try checkRange(limit, "--limit", 1...1_000_000)
        guard prefix.utf8.count <= 512 else { throw ValidationError("PREFIX must be at most 512 bytes, not \(prefix.utf8.count)") }
    }

    func run() async throws {
        try await guarded {
            let client = try connection.client()
            defer { Task { await client.close() } }
            try await client.pingBackend(timeout: connection.connectTimeout)
            let locks = try await client.locks.list(prefix: prefix, limit: limit)
            let caps = try await ConcurrencyCaps(client: client).list(prefix: prefix, limit: limit)
            if connection.json {
                connection.emit([
                    "locks": .array(locks.map { lock in
                        ["name": .string(lock.name), "holder": .string(lock.holder), "token": .int(lock.token),
                         "ms_left": .int(lock.millisecondsLeft)]
                    }),
                    "caps": .array(caps.map { cap in
                        ["key": .string(cap.key), "held": .int(Int64(cap.slots.count)),
                         "slots": .array(cap.slots.map { ["holder": .string($0.holder), "ms_left": .int($0.millisecondsLeft)] })]
                    }),
                ])
                return
            }
            if locks.isEmpty && caps.isEmpty { print("no locks held\(prefix.isEmpty ? "" : " under \(prefix)")") }
            for lock in locks {
                print("lock  \(lock.name)  holder=\(lock.holder)  token=\(lock.token)  left=\(Self.seconds(lock.millisecondsLeft))")
            }
            for cap in caps {
                print("cap   \(cap.key)  held=\(cap.slots.count)")
                for slot in cap.slots { print("        holder=\(slot.holder)  left=\(Self.seconds(slot.millisecondsLeft))") }
            }
        }
    }

    static func seconds(_ milliseconds: Int64) -> String {
        milliseconds < 0 ? "no expiry" : String(format: "%.3fs", Double(milliseconds) / 1000)
    }
}
