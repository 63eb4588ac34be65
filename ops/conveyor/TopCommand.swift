import ArgumentParser
import Conveyor
import Foundation
import Logging
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// `conveyor top`: the fleet live, refreshed every second.
struct TopCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "top",
        abstract: "A live view of the fleet: workers (Swift and Python), per-task counts over the last minute, running tasks, queues.",
        discussion: """
            Workers and tasks come from Celery's event stream (task events need workers started with -E, or \
            `celery control enable_events`), Conveyor's heartbeats in Redis and a pidbox stats broadcast every \
            \(Int(TopCommand.statsInterval)) s; queue depths from the broker. q (or Ctrl-C) quits. When standard \
            output is not a terminal, or with --once, it prints one snapshot (what one second of events told) and exits.
            """)

    @OptionGroup var connection: ConnectionOptions

    @Option(name: .customLong("queue"), help: "A queue to show (repeatable; default: every queue the fleet uses, from Redis).")
    var queues: [String] = []

    @Option(help: "Show only workers whose name matches this shell pattern (fnmatch), and their tasks.")
    var hostname: String?

    @Flag(help: "Print one snapshot as a plain table and exit, even on a terminal.")
    var once = false

    /// Seconds between pidbox `stats` broadcasts (each collects answers for a second).
    static let statsInterval = 10.0
    /// Seconds between redraws and polls.
    static let refreshInterval = 1.0

    func validate() throws {
        for queue in queues where queue.isEmpty || queue.utf8.count > 255 { throw ValidationError("--queue must be 1 to 255 bytes") }
        if let hostname, hostname.isEmpty || hostname.utf8.count > 255 { throw ValidationError("--hostname must be 1 to 255 bytes") }
        if connection.json { throw ValidationError("conveyor top has no JSON form: use conveyor events --json or conveyor status --json") }
    }

    func run() async throws {
        try await guarded {
            let pattern = hostname
            let shown: @Sendable (String) -> Bool = { name in pattern.map { fnmatch($0, name, 0) == 0 } ?? true }
            let state = TopState()
            let receiver = try CeleryEventReceiver(configuration: connection.configuration, logger: connection.quietLogger)
            try await receiver.start(timeout: connection.connectTimeout) { event in
                guard shown(event.hostname) else { return }
                state.activity.withLock { $0.apply(event, at: Date()) }
            }
            let client = try connection.client(createMissingQueues: false)
            try await client.connectBroker(timeout: connection.connectTimeout)
            receiver.onConnectionChange { reason in state.sources.withLock { $0.brokerError = reason } }
            let poller = TopPoller(client: client, queues: queues, shown: shown, timeout: connection.connectTimeout,
                                   logger: connection.quietLogger)
            defer { Task { await client.close() } }

            guard !once, TerminalScreen.isInteractive else {
                // The stats broadcast's second also lets the heartbeats the receiver asked for arrive.
                async let nodes = poller.nodes()
                await poller.refresh(state)
                let answered = await nodes
                state.sources.withLock { $0.nodes = answered }
                let lines = state.lines(at: Date(), interactive: false)
                StandardOutput.write(lines.map { $0.text + "\n" }.joined())
                _ = await withDeadline(2) { await receiver.close() }
                return
            }
            try await live(state, poller: poller)
            _ = await withDeadline(2) { await receiver.close() }
        }
    }

    private enum Input: Sendable {
        case tick, resize, quit
    }

    /// Redraws every second and on a resize until `q`, Ctrl-C, SIGINT, SIGTERM or SIGHUP; the
    /// terminal is restored on each of those ways out, and when drawing fails.
    private func live(_ state: TopState, poller: TopPoller) async throws {
        let screen = try TerminalScreen()
        defer { screen.restore() }
        let (inputs, sink) = AsyncStream.makeStream(of: Input.self, bufferingPolicy: .bufferingNewest(16))
        let trap = SignalTrap([SIGINT, SIGTERM, SIGHUP, SIGWINCH]) { number in sink.yield(number == SIGWINCH ? .resize : .quit) }
        defer { trap.cancel() }
        screen.onKey { key in
            // q, Q, Ctrl-C, Ctrl-D.
            if [UInt8(ascii: "q"), UInt8(ascii: "Q"), 3, 4].contains(key) { sink.yield(.quit) }
        }
        let background = [
            Task {
                while !Task.isCancelled {
                    sink.yield(.tick)
                    try? await Task.sleep(for: .seconds(Self.refreshInterval))
                }
            },
            Task {
                while !Task.isCancelled {
                    await poller.refresh(state)
                    try? await Task.sleep(for: .seconds(Self.refreshInterval))
                }
            },
            Task {
                while !Task.isCancelled {
                    let nodes = await poller.nodes()
                    state.sources.withLock { $0.nodes = nodes }
                    try? await Task.sleep(for: .seconds(Self.statsInterval))
                }
            },
        ]
        defer { for task in background { task.cancel() } }
        for await input in inputs {
            if case .quit = input { break }
            screen.draw(state.lines(at: Date(), interactive: true))
        }
    }
}

/// What `conveyor top` knows: the events' aggregate (written on the event connection's thread)
/// and the polled sources (written by the pollers), read at each redraw.
final class TopState: Sendable {
    let activity = Mutex(FleetActivity())
    let sources = Mutex(TopSources())

    /// The screen at `now`.
    func lines(at now: Date, interactive: Bool) -> [TopLine] {
        TopView.lines(activity.withLock { $0.snapshot(at: now) }, sources.withLock { $0 }, now: now, interactive: interactive)
    }
}

/// What `conveyor top` asks the servers each second (Redis heartbeats, queue depths) and every
/// few seconds (the pidbox `stats` broadcast). Failures are shown, never thrown: the view goes on.
struct TopPoller: Sendable {
    let client: ConveyorClient
    /// Queues named on the command line; empty: every queue the fleet uses.
    let queues: [String]
    let shown: @Sendable (String) -> Bool
    let timeout: Double
    let logger: Logger

    /// Heartbeats and queues into `state`.
    func refresh(_ state: TopState) async {
        let fleet = Fleet(client: client)
        var redisError: String?
        var heartbeats: [WorkerHeartbeat] = []
        var names = queues
        do {
            try await client.pingBackend(timeout: timeout)
            heartbeats = try await fleet.workers().filter { shown($0.hostname) }
            if names.isEmpty { names = try await fleet.queueNames() }
        } catch {
            redisError = (error as? ConveyorError)?.message ?? "\(error)"
        }
        var reports: [(name: String, report: QueueReport?)] = []
        for name in names {
            // A broker down is shown by the event stream's state; its queues are left out meanwhile.
            do { reports.append((name, try await fleet.queue(name))) } catch { continue }
        }
        let polled = (redisError, heartbeats, reports)
        state.sources.withLock {
            $0.redisError = polled.0
            $0.heartbeats = polled.1
            $0.queues = polled.2
        }
    }

    /// The workers answering a pidbox `stats` broadcast within a second; none when it fails.
    func nodes() async -> [CeleryNode] {
        ((try? await Fleet(client: client).celeryNodes(logger: logger)) ?? []).filter { shown($0.name) }
    }
}
