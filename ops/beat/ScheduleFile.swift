import Conveyor
import Foundation
import Yams

/// The schedule file: YAML, checked key by key, every refusal naming its line.
///
/// ```yaml
/// name: default            # optional; instances sharing a name share a leader
/// lease: 10                # seconds (1 to 3600): the failover window
/// max_catch_up: 100        # most missed runs `catch_up: all` fires at once
/// entries:
///   nightly-digest:
///     task: email.send
///     kwargs: {template: digest}
///     queue: mail
///     cron: "0 3 * * mon-fri"      # minute hour day_of_month month_of_year day_of_week
///     timezone: Europe/Berlin
///     catch_up: one                # none | one | all
///     options: {expires: 3600, priority: 5}
///   heartbeat:
///     task: conveyor.echo
///     every: 30                    # seconds
/// ```
enum ScheduleFile {
    static let topKeys: Set<String> = ["name", "lease", "max_catch_up", "entries"]
    static let entryKeys: Set<String> = ["task", "args", "kwargs", "queue", "options", "every", "cron", "timezone", "catch_up"]
    static let optionKeys: Set<String> = ["countdown", "expires", "priority", "time_limit", "soft_time_limit"]
    /// The shortest and longest interval, seconds.
    static let everySeconds: ClosedRange<Double> = 0.1...(366 * 86_400)

    static func parse(_ text: String) throws -> BeatSchedule {
        let root: Node
        do {
            guard let node = try Yams.compose(yaml: text) else { throw ScheduleError(line: 1, "the file is empty") }
            root = node
        } catch let error as YamlError {
            throw Self.translate(error)
        }
        let top = try mapping(root, "the file")
        var name = "default", leaseSeconds = BeatSchedule.defaultLeaseSeconds, maxCatchUp = BeatSchedule.defaultMaxCatchUp
        var entries: [BeatEntry] = []
        for (key, value) in top {
            switch key {
            case "name": name = try string(value, "name")
            case "lease": leaseSeconds = try number(value, "lease", BeatSchedule.leaseSeconds)
            case "max_catch_up": maxCatchUp = Int(try number(value, "max_catch_up", Double(BeatSchedule.maxCatchUpRange.lowerBound)...Double(BeatSchedule.maxCatchUpRange.upperBound), integer: true))
            case "entries":
                for (entryName, body) in try mapping(value, "entries") {
                    entries.append(try entry(entryName, body))
                }
            default: throw ScheduleError(line: line(value), "unknown key '\(key)' (expected one of \(topKeys.sorted().joined(separator: ", ")))")
            }
        }
        guard !entries.isEmpty else { throw ScheduleError(line: line(root), "no entries") }
        return try BeatSchedule(name: name, lease: .milliseconds(Int64((leaseSeconds * 1000).rounded())), maxCatchUp: maxCatchUp, entries: entries)
    }

    private static func entry(_ name: String, _ node: Node) throws -> BeatEntry {
        let at = line(node)
        guard BeatEntry.isValidName(name) else { throw ScheduleError(line: at, "entry name '\(name)' must be 1 to 128 of A-Z a-z 0-9 . _ -") }
        let fields = try mapping(node, "entry \(name)")
        var values: [String: Node] = [:]
        for (key, value) in fields {
            guard entryKeys.contains(key) else {
                throw ScheduleError(line: line(value), "entry \(name): unknown key '\(key)' (expected one of \(entryKeys.sorted().joined(separator: ", ")))")
            }
            values[key] = value
        }
        guard let taskNode = values["task"] else { throw ScheduleError(line: at, "entry \(name): no task") }
        let task = try string(taskNode, "entry \(name): task")
        let args = try values["args"].map { node -> [JSON] in
            guard case let .array(items) = try json(node) else { throw ScheduleError(line: line(node), "entry \(name): args must be a list") }
            return items
        } ?? []
        let kwargs = try values["kwargs"].map { node -> JSONObject in
            guard case let .object(object) = try json(node) else { throw ScheduleError(line: line(node), "entry \(name): kwargs must be a mapping") }
            return object
        } ?? [:]
        var options = TaskOptions()
        if let queue = values["queue"] { options.queue = try string(queue, "entry \(name): queue") }
        if let node = values["options"] { try apply(node, to: &options, entry: name) }
        let trigger: BeatEntry.Trigger
        switch (values["every"], values["cron"]) {
        case let (every?, nil):
            if let zone = values["timezone"] { throw ScheduleError(line: line(zone), "entry \(name): timezone applies to cron only") }
            let seconds = try number(every, "entry \(name): every", everySeconds)
            trigger = .every(milliseconds: Int64((seconds * 1000).rounded()))
        case let (nil, cron?):
            var zone = TimeZone.gmt
            if let zoneNode = values["timezone"] {
                let identifier = try string(zoneNode, "entry \(name): timezone")
                guard let found = TimeZone(identifier: identifier) else {
                    throw ScheduleError(line: line(zoneNode), "entry \(name): unknown time zone '\(identifier)' (an IANA name such as Europe/Berlin)")
                }
                zone = found
            }
            do {
                trigger = .cron(try Crontab(try string(cron, "entry \(name): cron"), timeZone: zone))
            } catch let error as CrontabError {
                throw ScheduleError(line: line(cron), "entry \(name): cron \(error)")
            }
        case (nil, nil): throw ScheduleError(line: at, "entry \(name): needs every (seconds) or cron")
        case let (_, cron?): throw ScheduleError(line: line(cron), "entry \(name): has both every and cron")
        }
        var catchUp = BeatEntry.CatchUp.one
        if let node = values["catch_up"] {
            let text = try string(node, "entry \(name): catch_up")
            guard let policy = BeatEntry.CatchUp(rawValue: text) else {
                throw ScheduleError(line: line(node), "entry \(name): catch_up must be none, one or all, not '\(text)'")
            }
            catchUp = policy
        }
        return BeatEntry(name: name, task: task, args: args, kwargs: kwargs, options: options, trigger: trigger, catchUp: catchUp, line: at)
    }

    private static func apply(_ node: Node, to options: inout TaskOptions, entry name: String) throws {
        for (key, value) in try mapping(node, "entry \(name): options") {
            let what = "entry \(name): options.\(key)"
            switch key {
            case "countdown": options.countdown = try number(value, what, 0...(366 * 86_400))
            case "expires": options.expiresIn = try number(value, what, 0.001...(366 * 86_400))
            case "priority": options.priority = UInt8(try number(value, what, 0...255, integer: true))
            case "time_limit": options.timeLimit = try number(value, what, 0.001...(366 * 86_400))
            case "soft_time_limit": options.softTimeLimit = try number(value, what, 0.001...(366 * 86_400))
            default:
                throw ScheduleError(line: line(value), "entry \(name): unknown option '\(key)' (expected one of \(optionKeys.sorted().joined(separator: ", ")))")
            }
        }
    }
}
