@testable import Beat
import Conveyor
import Foundation
import Testing
import TestSupport

@Suite("Beat: crontab parsing and next runs, against Celery 5.7's own crontab")
struct CrontabTests {
    /// Celery's documented examples (celery/schedules.py's crontab docstring and the user
    /// guide), plus wrapping ranges, names, day of month AND day of week, leap days and zones.
    static let expressions = [
        "* * * * *", "0 0 * * *", "*/15 * * * *", "0 */3 * * *", "0 0 * * sun", "* * * * sun", "*/10 * * * thu,fri",
        "0 0-7,22-23 * * thu,fri", "0 */2,*/3 * * *", "0 */5 * * *", "0 */3,8-17 * * *", "0 0 2 * *", "0 0 2-30/2 * *",
        "0 0 1-7,15-21 * *", "0 0 11 5 *", "0 0 * */3 *", "0 0 * * mon-fri", "0 12 13 * fri", "0 0 29 feb *",
        "5 4 * * sat-mon", "0 22-2 * * *", "15,45 9-17/2 * jan-mar,oct *", "30 2 * * *", "30 1 * * *", "*/30 1-3 * * *",
        "59 23 31 12 *", "0 0 * * sunday",
    ]
    static let zones = ["UTC", "America/New_York", "Europe/Berlin", "Australia/Lord_Howe", "Asia/Kolkata"]
    /// Seconds since 1970: ordinary times, both sides of the 2026 DST changes in New York,
    /// Berlin and Lord Howe, inside New York's repeated hour, a year's end and a leap year.
    static let starts: [Int64] = [
        1_796_478_015, 1_772_953_140, 1_772_956_800, 1_774_746_000, 1_777_852_800, 1_793_500_199, 1_793_511_000,
        1_793_514_600, 1_798_761_599, 1_835_258_400, 1_775_313_000, 1_790_000_000,
    ]

    struct Case: Codable { let expr: String; let tz: String; let start: Int64 }
    struct Expected: Codable { let next: Double?; let error: String? }

    @Test("next run after each start, in each zone, equals Celery's remaining_delta for every expression")
    func matchesCelery() async throws {
        var cases: [Case] = []
        for expression in Self.expressions { for zone in Self.zones { for start in Self.starts { cases.append(Case(expr: expression, tz: zone, start: start)) } } }
        let expected = try await celery(cases)
        try #require(expected.count == cases.count)
        var compared = 0, repeatedHour = 0
        for (item, answer) in zip(cases, expected) {
            let zone = try #require(TimeZone(identifier: item.tz))
            let crontab = try Crontab(item.expr, timeZone: zone)
            let next = try #require(crontab.next(after: Date(timeIntervalSince1970: Double(item.start))), "\(item)")
            #expect(answer.error == nil, "Celery refused \(item.expr): \(answer.error ?? "")")
            let celery = try #require(answer.next)
            if celery <= Double(item.start) {
                // Inside a repeated hour (New York, 2026-11-01 01:00-02:00 EST), Celery's
                // wall-clock arithmetic drops the fold and answers the same wall time an hour
                // in the past (so Celery runs at once); Conveyor answers that wall time's second
                // occurrence, the first one after the start.
                #expect(next.timeIntervalSince1970 == celery + 3600, "\(item.expr) in \(item.tz) after \(item.start)")
                repeatedHour += 1
            } else {
                #expect(next.timeIntervalSince1970 == celery, "\(item.expr) in \(item.tz) after \(item.start)")
            }
            compared += 1
        }
        #expect(compared == Self.expressions.count * Self.zones.count * Self.starts.count)
        #expect(repeatedHour == 3)
    }

    @Test("expressions Celery refuses are refused, with the field named")
    func refusals() async throws {
        let bad = ["5/10 * * * *", "* * * * 7", "60 * * * *", "* 24 * * *", "* * 0 * *", "* * 32 * *", "* * * 13 *", "*/0 * * * *",
                   "* * * * xyz", "0 0 30 feb *", ",5 * * * *", "* * * *"]
        let expected = try await celery(bad.map { Case(expr: $0, tz: "UTC", start: 0) })
        for (expression, answer) in zip(bad, expected) {
            #expect(answer.error != nil, "Celery accepted \(expression)")
        }
        for expression in bad {
            #expect(throws: CrontabError.self, "\(expression)") { _ = try Crontab(expression) }
        }
        // Stricter than Celery, whose prefix-matching regex reads "1-2-3" as 1-2.
        #expect(throws: CrontabError.self) { _ = try Crontab("1-2-3 * * * *") }
        #expect(throws: CrontabError.self) { _ = try Crontab("* * * * *  *") }
        let error = try #require(throws: CrontabError.self) { _ = try Crontab("*/15 25 * * *") }
        #expect(error.description.contains("hour") && error.description.contains("25"))
    }

    @Test("fields expand as Celery's crontab_parser examples say")
    func parserExamples() throws {
        #expect(try CrontabField("*/15", .minute).values == [0, 15, 30, 45])
        #expect(try CrontabField("*/4", .hour).values == [0, 4, 8, 12, 16, 20])
        #expect(try CrontabField("*", .dayOfWeek).values == [0, 1, 2, 3, 4, 5, 6])
        #expect(try CrontabField("*/3", .dayOfMonth).values == [1, 4, 7, 10, 13, 16, 19, 22, 25, 28, 31])
        #expect(try CrontabField("*/2", .monthOfYear).values == [1, 3, 5, 7, 9, 11])
        #expect(try CrontabField("2-12/2", .monthOfYear).values == [2, 4, 6, 8, 10, 12])
        #expect(try CrontabField("fri-mon", .dayOfWeek).values == [0, 1, 5, 6])
        #expect(try CrontabField("Sunday,SAT", .dayOfWeek).values == [0, 6])
    }

    private func celery(_ cases: [Case]) async throws -> [Expected] {
        let input = FileManager.default.temporaryDirectory.appendingPathComponent("crontab-cases-\(UUID().uuidString.prefix(8)).json")
        try JSONEncoder().encode(cases).write(to: input)
        defer { try? FileManager.default.removeItem(at: input) }
        let output = try await PythonScript.run("crontab_next.py", [input.path], timeout: hangGuard)
        let line = try #require(output.split(separator: "\n").last { $0.hasPrefix("[") })
        return try JSONDecoder().decode([Expected].self, from: Data(line.utf8))
    }
}
