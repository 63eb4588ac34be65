@testable import Beat
import Conveyor
import Foundation
import Testing

@Suite("Beat: the schedule file is read whole or refused with the line and the reason")
struct ScheduleFileTests {
    static let good = """
        name: nightly
        lease: 15
        max_catch_up: 20
        entries:
          digest:
            task: email.send
            kwargs: {template: digest, to: ["ops@example.com"]}
            queue: mail
            cron: "0 3 * * mon-fri"
            timezone: Europe/Berlin
            catch_up: one
            options: {expires: 3600, priority: 5, countdown: 2, time_limit: 60, soft_time_limit: 50}
          heartbeat:
            task: conveyor.echo
            args: [1, 2.5, "three", true, null]
            every: 0.5
            catch_up: all
        """

    @Test("a good file gives every field")
    func good() throws {
        let schedule = try ScheduleFile.parse(Self.good)
        #expect(schedule.name == "nightly" && schedule.lease == .seconds(15) && schedule.maxCatchUp == 20)
        #expect(schedule.entries.map(\.name) == ["digest", "heartbeat"])
        let digest = try #require(schedule.entry("digest"))
        #expect(digest.task == "email.send" && digest.catchUp == .one && digest.line == 6)
        #expect(digest.kwargs["to"] == ["ops@example.com"] && digest.options.queue == "mail")
        #expect(digest.options.expiresIn == 3600 && digest.options.priority == 5 && digest.options.countdown == 2)
        #expect(digest.options.timeLimit == 60 && digest.options.softTimeLimit == 50)
        guard case let .cron(crontab) = digest.trigger else { Issue.record("not a cron entry"); return }
        #expect(crontab.timeZone.identifier == "Europe/Berlin" && crontab.expression == "0 3 * * mon-fri")
        let heartbeat = try #require(schedule.entry("heartbeat"))
        #expect(heartbeat.args == [1, 2.5, "three", true, .null])
        guard case let .every(milliseconds) = heartbeat.trigger else { Issue.record("not an interval entry"); return }
        #expect(milliseconds == 500 && heartbeat.catchUp == .all)
    }

    @Test("each mistake is refused with its line and reason", arguments: [
        ("entries:\n  a:\n    task: t\n    every: 0\n", 4, "every must be a number in 0.1"),
        ("entries:\n  a:\n    task: t\n    every: -3\n", 4, "every"),
        ("entries:\n  a:\n    task: t\n    every: .nan\n", 4, "every must be a number"),
        ("entries:\n  a:\n    task: t\n    every: ten\n", 4, "every must be a number, not 'ten'"),
        ("entries:\n  a:\n    task: t\n    cron: \"61 * * * *\"\n", 4, "minute '61': 61 is outside 0...59"),
        ("entries:\n  a:\n    task: t\n    cron: \"* * * *\"\n", 4, "has 4 fields, not 5"),
        ("entries:\n  a:\n    task: t\n    cron: \"* * * * *\"\n    timezone: Mars/Olympus\n", 5, "unknown time zone 'Mars/Olympus'"),
        ("entries:\n  a:\n    task: t\n    every: 1\n    cron: \"* * * * *\"\n", 5, "has both every and cron"),
        ("entries:\n  a:\n    task: t\n", 3, "needs every (seconds) or cron"),
        ("entries:\n  a:\n    every: 1\n", 3, "no task"),
        ("entries:\n  a:\n    task: t\n    every: 1\n    catch_up: some\n", 5, "catch_up must be none, one or all"),
        ("entries:\n  a:\n    task: t\n    every: 1\n    tsk: x\n", 5, "unknown key 'tsk'"),
        ("entries:\n  a:\n    task: t\n    every: 1\n    options: {priority: 256}\n", 5, "priority must be a whole number in 0"),
        ("entries:\n  a:\n    task: t\n    every: 1\n    args: {x: 1}\n", 5, "args must be a list"),
        ("entries:\n  \"a b\":\n    task: t\n    every: 1\n", 3, "entry name 'a b'"),
        ("lease: 0.5\nentries:\n  a:\n    task: t\n    every: 1\n", 1, "lease must be a number in 1"),
        ("entries:\n  a:\n    task: t\n    every: 1\n  a:\n    task: u\n    every: 2\n", 2, "duplicate"),
        ("entries:\n  a:\n    task: [t\n    every: 1\n", 4, "YAML"),
        ("entries: {}\n", 1, "no entries"),
    ])
    func refusals(text: String, line: Int, reason: String) {
        do {
            _ = try ScheduleFile.parse(text)
            Issue.record("accepted: \(text)")
        } catch let error as ScheduleError {
            #expect(error.line == line, "\(error)")
            #expect(error.reason.contains(reason), "\(error)")
        } catch {
            Issue.record("unexpected \(error)")
        }
    }

    @Test("a missing or empty file is refused")
    func missing() throws {
        #expect(throws: ScheduleError.self) { _ = try BeatSchedule.load(path: "/nonexistent/beat.yaml") }
        #expect(throws: ScheduleError.self) { _ = try ScheduleFile.parse("") }
    }
}
