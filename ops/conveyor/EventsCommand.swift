import ArgumentParser
import Conveyor
import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// `conveyor events`: Celery's event stream, as `celery events --dump` prints it.
struct EventsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "events",
        abstract: "Print Celery's event stream (Python and Swift workers) as `celery events --dump` does, or as JSON lines.",
        discussion: "Runs until interrupted (Ctrl-C or SIGTERM, exit 0). Task events come from workers started with -E or after `celery control enable_events`.")

    @OptionGroup var connection: ConnectionOptions

    @Option(help: "The private event queue's name before `.<uuid>` (Celery's event_queue_prefix).")
    var queuePrefix: String = CeleryEventReceiver.defaultQueuePrefix

    /// Events waiting to be written when standard output is slower than the broker; past it
    /// the newest are kept (and the gap is reported on standard error).
    static let backlog = 65_536

    func validate() throws {
        guard (1...200).contains(queuePrefix.utf8.count) else { throw ValidationError("--queue-prefix must be 1 to 200 bytes") }
    }

    func run() async throws {
        try await guarded {
            let receiver = try CeleryEventReceiver(configuration: connection.configuration, queuePrefix: queuePrefix,
                                                   logger: connection.quietLogger)
            let (events, sink) = AsyncStream.makeStream(of: StreamItem.self, bufferingPolicy: .bufferingNewest(Self.backlog))
            let trap = SignalTrap([SIGINT, SIGTERM]) { _ in sink.finish() }
            defer { trap.cancel() }
            let dropped = Mutex(0)
            try await receiver.start(timeout: connection.connectTimeout) { event in
                if case .dropped = sink.yield(.event(event, receivedAt: Date())) { dropped.withLock { $0 += 1 } }
            }
            // Celery's dumper says `-> evdump: starting capture...`; here on standard error, so
            // standard output stays one event per line.
            StandardOutput.note("-> conveyor events: capturing from \(receiver.queue)\n")
            receiver.onConnectionChange { reason in
                if let reason { sink.yield(.notice("-> connection lost (\(reason)), reconnecting")) }
            }
            var dump = EventDump()
            var reported = 0
            reading: for await item in events {
                let lost = dropped.withLock { $0 }
                if lost > reported {
                    StandardOutput.note("conveyor: \(lost - reported) event(s) dropped: standard output is slower than the event stream\n")
                    reported = lost
                }
                switch item {
                case let .event(event, receivedAt):
                    let line = connection.json ? dump.json(event, receivedAt: receivedAt) : dump.line(event, receivedAt: receivedAt)
                    // The reader went away (`| head`): done, as Celery's dumper is.
                    guard StandardOutput.write(line + "\n") else { break reading }
                case let .notice(text):
                    StandardOutput.note("conveyor: \(text)\n")
                }
            }
            // Bounded: a broker gone silent must not hold the exit.
            _ = await withDeadline(2) { await receiver.close() }
        }
    }

    enum StreamItem: Sendable {
        case event(CeleryEvent, receivedAt: Date)
        case notice(String)
    }
}

/// `celery events --dump`'s lines (`celery/events/dumper.py`): `hostname [timestamp] type: fields`,
/// task events with `name(uuid) args=… kwargs=…` remembered from their `task-received`.
struct EventDump {
    /// How many task names are remembered (the dumper's `LRUCache(limit=0xFFF)`).
    static let rememberedTasks = 0xFFF
    /// The dumper's names for worker events.
    static let humanTypes = ["worker-offline": "shutdown", "worker-online": "started", "worker-heartbeat": "heartbeat"]

    private var taskNames: [String: String] = [:]
    private var order: [String] = []

    /// The dumper's line for `event`, received at `receivedAt`.
    mutating func line(_ event: CeleryEvent, receivedAt: Date) -> String {
        var fields = Self.received(event, at: receivedAt)
        let timestamp = fields["timestamp"]?.double ?? 0
        let type = event.type.lowercased()
        let human = Self.humanTypes[type] ?? type.replacingOccurrences(of: "-", with: " ")
        for key in ["timestamp", "type", "hostname"] { fields[key] = nil }
        var task: String?
        if type.hasPrefix("task-") {
            let uuid = fields["uuid"].map(Self.text) ?? ""
            fields["uuid"] = nil
            if type == "task-received" || type == "task-sent" {
                let name = fields["name"].map(Self.text) ?? "", args = fields["args"].map(Self.text) ?? "", kwargs = fields["kwargs"].map(Self.text) ?? ""
                for key in ["name", "args", "kwargs"] { fields[key] = nil }
                let described = "\(name)(\(uuid)) args=\(args) kwargs=\(kwargs)"
                remember(uuid, described)
                task = described
            } else {
                task = taskNames[uuid] ?? ""
            }
        }
        let text = fields.sorted { $0.key < $1.key }.map { "\($0.key)=\(Self.text($0.value))" }.joined(separator: ", ")
        let head = "\(event.hostname) [\(Self.utcText(timestamp))] \(human)\(text.isEmpty ? "" : ":")"
        return [head, task, text].compactMap { $0 }.joined(separator: " ")
    }

    /// The event as Celery's receiver hands it on, one JSON object.
    func json(_ event: CeleryEvent, receivedAt: Date) -> String {
        JSON.object(Self.received(event, at: receivedAt)).text(.compact)
    }

    /// What Celery's receiver makes of an event (`receiver.py:event_from_message`): the
    /// timestamp moved from the sender's UTC offset to ours, and `local_received` added.
    static func received(_ event: CeleryEvent, at now: Date) -> JSONObject {
        var fields = event.fields
        if let timestamp = event.timestamp, let offset = fields["utcoffset"]?.double, offset.isFinite, abs(offset) <= 24 {
            let here = Double(-TimeZone.current.secondsFromGMT(for: now)) / 3600
            fields["timestamp"] = .double(timestamp - (offset - here) * 3600)
        }
        fields["local_received"] = .double(now.timeIntervalSince1970)
        return fields
    }

    /// Python's `str()` of a field: strings as they are, everything else as its repr.
    static func text(_ value: JSON) -> String {
        value.string ?? PythonRepr.value(value)
    }

    /// `str(datetime.fromtimestamp(t, timezone.utc))`: `2026-12-05 13:45:02.123456+00:00`, the
    /// microseconds left out when there are none.
    static func utcText(_ timestamp: Double) -> String {
        guard timestamp.isFinite, abs(timestamp) < 2.5e11 else { return String(timestamp) }
        var micros = Int64((timestamp * 1_000_000).rounded(.toNearestOrEven))
        var seconds = micros / 1_000_000
        micros %= 1_000_000
        if micros < 0 { micros += 1_000_000; seconds -= 1 }
        var time = time_t(seconds)
        var parts = tm()
        gmtime_r(&time, &parts)
        let date = String(format: "%04d-%02d-%02d %02d:%02d:%02d", Int(parts.tm_year) + 1900, Int(parts.tm_mon) + 1, Int(parts.tm_mday),
                          Int(parts.tm_hour), Int(parts.tm_min), Int(parts.tm_sec))
        return date + (micros == 0 ? "" : String(format: ".%06d", Int(micros))) + "+00:00"
    }

    private mutating func remember(_ uuid: String, _ described: String) {
        if taskNames.updateValue(described, forKey: uuid) == nil { order.append(uuid) }
        if order.count > Self.rememberedTasks {
            let oldest = order.count - Self.rememberedTasks
            for uuid in order[..<oldest] { taskNames[uuid] = nil }
            order.removeFirst(oldest)
        }
    }
}
