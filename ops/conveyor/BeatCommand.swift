import ArgumentParser
import Beat
import Conveyor
import Foundation

/// `conveyor beat`: the periodic scheduler (`run`, the default), and what operators ask of it.
struct BeatCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "beat",
        abstract: "Periodic tasks: run the scheduler (safe on every host: each due time is sent once), list entries, run one now.",
        subcommands: [BeatRunCommand.self, BeatListCommand.self, BeatRunNowCommand.self],
        defaultSubcommand: BeatRunCommand.self)
}

/// Options every `conveyor beat` command shares.
struct BeatOptions: ParsableArguments {
    @Option(help: "The schedule file (YAML; see the README's Periodic tasks section).")
    var schedule: String

    /// The schedule, or a usage failure (exit 2) naming the line and the reason.
    func load() throws -> BeatSchedule {
        do {
            return try BeatSchedule.load(path: schedule)
        } catch let error as ScheduleError {
            throw CLIError("\(schedule): \(error)", exitCode: 2)
        }
    }
}

struct BeatListCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "list", abstract: "Each entry's last and next run, and the current leader.")

    @OptionGroup var connection: ConnectionOptions
    @OptionGroup var beat: BeatOptions

    func run() async throws {
        try await guarded {
            let schedule = try beat.load()
            let client = try connection.client()
            defer { Task { await client.close() } }
            try await client.pingBackend(timeout: connection.connectTimeout)
            let status = try await BeatStatus.read(schedule, client: client)
            let time = { (date: Date?) in date.map { ISO8601.format($0) } ?? "-" }
            if connection.json {
                connection.emit([
                    "schedule": .string(status.schedule),
                    "leader": status.leader.map { ["holder": .string($0.holder), "token": .int($0.token), "ms_left": .int($0.millisecondsLeft)] } ?? .null,
                    "entries": .array(status.entries.map { entry in
                        ["name": .string(entry.name), "trigger": .string(entry.trigger), "last": entry.last.map { .string(time($0)) } ?? .null,
                         "last_sent": .bool(entry.lastSent), "next": entry.next.map { .string(time($0)) } ?? .null]
                    }),
                ])
                return
            }
            if let leader = status.leader {
                print("schedule \(status.schedule)  leader=\(leader.holder)  token=\(leader.token)  lease left=\(LocksCommand.seconds(leader.millisecondsLeft))")
            } else {
                print("schedule \(status.schedule)  leader=none (no conveyor beat running)")
            }
            for entry in status.entries {
                print("\(entry.name)  \(entry.trigger)  last=\(time(entry.last))\(entry.lastSent ? "" : " (not yet sent)")  next=\(time(entry.next))")
            }
        }
    }
}

struct BeatRunNowCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "run-now", abstract: "Send one run of an entry now (its schedule is left as it is).")

    @OptionGroup var connection: ConnectionOptions
    @OptionGroup var beat: BeatOptions

    @Argument(help: "The entry's name.")
    var name: String

    func run() async throws {
        try await guarded {
            let schedule = try beat.load()
            guard let entry = schedule.entry(name) else {
                throw CLIError("no entry named \(name) in \(beat.schedule) (entries: \(schedule.entries.map(\.name).joined(separator: ", ")))")
            }
            let client = try connection.client()
            defer { Task { await client.close() } }
            let taskId = try await BeatStatus.runNow(entry, schedule: schedule, publisher: ClientPublisher(client: client))
            if connection.json {
                connection.emit(["entry": .string(entry.name), "task": .string(entry.task), "id": .string(taskId)])
            } else {
                print(taskId)
            }
        }
    }
}
