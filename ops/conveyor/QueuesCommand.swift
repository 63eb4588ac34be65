import ArgumentParser
import Conveyor
import Foundation

struct QueuesCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "queues", abstract: "Depth, consumers and dead letters of every known queue.")

    @OptionGroup var connection: ConnectionOptions

    @Argument(help: "Queues to show (default: every queue the fleet uses).")
    var names: [String] = []

    func run() async throws {
        try await guarded {
            let client = try connection.client()
            defer { Task { await client.close() } }
            // Named queues need only the broker; the fleet's list of queues lives in Redis.
            if names.isEmpty { try await client.connect(timeout: connection.connectTimeout) } else {
                try await client.connectBroker(timeout: connection.connectTimeout)
            }
            let fleet = Fleet(client: client)
            let names = self.names.isEmpty ? try await fleet.queueNames() : self.names
            var reports: [(String, QueueReport?)] = []
            for name in names { reports.append((name, try await fleet.queue(name))) }
            if connection.json {
                connection.emit(.array(reports.map { name, report in
                    guard let report else { return ["name": .string(name), "exists": false] }
                    return ["name": .string(name), "exists": true, "ready": .int(Int64(report.ready)),
                            "consumers": .int(Int64(report.consumers)), "dead_letters": report.deadLetters.map { .int(Int64($0)) } ?? .null]
                }))
                return
            }
            let width = max(5, names.map(\.count).max() ?? 5)
            print("QUEUE".padding(toLength: width, withPad: " ", startingAt: 0) + "  READY  CONSUMERS  DEAD")
            for (name, report) in reports {
                let label = name.padding(toLength: width, withPad: " ", startingAt: 0)
                guard let report else {
                    print("\(label)  (does not exist)")
                    continue
                }
                let ready = String(report.ready).leftPadded(5)
                let consumers = String(report.consumers).leftPadded(9)
                let dead = report.deadLetters.map { String($0) } ?? "-"
                print("\(label)  \(ready)  \(consumers)  \(dead.leftPadded(4))")
            }
        }
    }
}

extension String {
    func leftPadded(_ width: Int) -> String {
        count >= width ? self : String(repeating: " ", count: width - count) + self
    }
}
