import ArgumentParser
import Beat
import Conveyor
import Foundation
import Logging
import Synchronization
import UnixSignals

/// `conveyor beat [run] --schedule FILE`: the scheduler daemon. Run it on as many hosts as you
/// like; the instance holding the schedule's leader lease sends each due run once.
/// SIGHUP reloads the file (a bad file is refused and the running schedule stays); SIGTERM or
/// SIGINT finish the current pass, release the lease and exit.
struct BeatRunCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "run", abstract: "Run the scheduler (the default): SIGHUP reloads the schedule, SIGTERM releases the lead and exits.")

    @OptionGroup var connection: ConnectionOptions
    @OptionGroup var beat: BeatOptions

    @Option(help: "This instance's name in the leader lease (default: host name and process id).")
    var hostname: String?

    @Option(help: "trace, debug, info, notice, warning, error or critical.")
    var logLevel: String = "info"

    func validate() throws {
        guard Logger.Level(rawValue: logLevel.lowercased()) != nil else { throw ValidationError("unknown log level '\(logLevel)'") }
        if let hostname, hostname.isEmpty || hostname.utf8.count > 256 { throw ValidationError("--hostname must be 1 to 256 bytes") }
    }

    func run() async throws {
        signal(SIGPIPE, SIG_IGN)
        LogfmtLogHandler.bootstrap(level: Logger.Level(rawValue: logLevel.lowercased()) ?? .info)
        let logger = Logger(label: "conveyor.beat")
        try await guarded {
            let schedule = try beat.load()
            var configuration = connection.configuration
            configuration.createMissingQueues = true
            let client = try ConveyorClient(configuration: configuration, name: "conveyor-beat", logger: logger)
            let scheduler = BeatScheduler(schedule: schedule, client: client, holder: hostname, logger: logger)
            let loop = BeatLoop()
            let signals = await UnixSignalsSequence(trapping: .sigterm, .sigint, .sighup)
            let watcher = Task {
                for await received in signals {
                    if received == .sighup {
                        do {
                            let fresh = try BeatSchedule.load(path: beat.schedule)
                            await scheduler.reload(fresh)
                            logger.info("schedule reloaded", metadata: ["entries": "\(fresh.entries.count)"])
                        } catch {
                            logger.error("schedule refused; the running one stays", metadata: ["file": "\(beat.schedule)", "error": "\(error)"])
                        }
                        loop.wake()
                    } else {
                        logger.info("stopping: releasing the leader lease")
                        loop.stop()
                    }
                }
            }
            logger.info("beat ready", metadata: ["schedule": "\(schedule.name)", "entries": "\(schedule.entries.count)"])
            while !loop.stopped {
                let wake = await scheduler.tick(now: Date())
                await loop.sleep(until: wake)
            }
            watcher.cancel()
            await scheduler.resign()
            await client.close()
            logger.info("beat stopped")
            LogfmtLogHandler.flush()
        }
    }
}

/// The daemon's sleep between passes, cut short by a reload or a stop.
final class BeatLoop: Sendable {
    private struct State {
        var stopped = false
        var sleeper: Task<Void, Never>?
    }
    private let state = Mutex(State())

    var stopped: Bool { state.withLock { $0.stopped } }

    func sleep(until wake: Date) async {
        let seconds = min(max(0, wake.timeIntervalSinceNow), 3600)
        let sleeper = Task<Void, Never> { _ = try? await Task.sleep(for: .milliseconds(Int64(seconds * 1000))) }
        let cancelled = state.withLock { s -> Bool in
            s.sleeper = sleeper
            return s.stopped
        }
        if cancelled { sleeper.cancel() }
        await sleeper.value
    }

    func wake() { state.withLock { $0.sleeper }?.cancel() }

    func stop() {
        let sleeper = state.withLock { s -> Task<Void, Never>? in
            s.stopped = true
            return s.sleeper
        }
        sleeper?.cancel()
    }
}
