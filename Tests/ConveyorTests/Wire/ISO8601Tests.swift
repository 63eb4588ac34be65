import Conveyor
import Foundation
import Testing

extension WireTests {
    @Suite("ISO-8601 as Python's isoformat writes it and dateutil's isoparse reads it")
    struct ISO8601Text {
        @Test("format writes UTC with +00:00, microseconds only when not zero")
        func format() {
            #expect(ISO8601.format(WireTests.date(1_795_791_736.728838)) == "2026-11-27T15:02:16.728838+00:00")
            #expect(ISO8601.format(WireTests.date(1_795_791_736)) == "2026-11-27T15:02:16+00:00")
            #expect(ISO8601.format(WireTests.date(1_795_791_736.000001)) == "2026-11-27T15:02:16.000001+00:00")
            #expect(ISO8601.format(WireTests.date(1_795_791_743.86452)) == "2026-11-27T15:02:23.864520+00:00")
            #expect(ISO8601.format(WireTests.date(0)) == "1970-01-01T00:00:00+00:00")
            #expect(ISO8601.format(WireTests.date(-1.5)) == "1969-12-31T23:59:58.500000+00:00")
        }

        @Test("format rounds to the nearest microsecond, carrying into the next second")
        func formatRounding() {
            #expect(ISO8601.format(WireTests.date(1_795_791_736.9999996)) == "2026-11-27T15:02:17+00:00")
        }

        @Test("parse reads offsets, Z, a space separator, compact offsets and dates alone", arguments: [
            ("2026-11-27T15:02:16.728838+00:00", 1_795_791_736.728838),
            ("2026-11-27T17:02:16.728838+02:00", 1_795_791_736.728838),
            ("2026-11-27T09:32:16-05:30", 1_795_791_736),
            ("2026-11-27T15:02:16Z", 1_795_791_736),
            ("2026-11-27T15:02:16z", 1_795_791_736),
            ("2026-11-27 15:02:16", 1_795_791_736),
            ("2026-11-27T16:02:16+0100", 1_795_791_736),
            ("2026-11-27T16:02:16+01", 1_795_791_736),
            ("2026-11-27T15:02:16.5", 1_795_791_736.5),
            ("2026-11-27T15:02:16,25", 1_795_791_736.25),
            ("2026-11-27T15:02", 1_795_791_720),
            ("2026-11-27T15", 1_795_791_600),
            ("2026-11-27", 1_795_737_600),
            ("1970-01-01T00:00:00+00:00", 0),
        ])
        func parse(_ text: String, _ seconds: Double) throws {
            let date = try #require(ISO8601.parse(text))
            #expect(abs(date.timeIntervalSince1970 - seconds) < 1e-6, "\(text) read as \(date.timeIntervalSince1970)")
        }

        @Test("parse refuses what is not an ISO-8601 time", arguments: [
            "", "2026", "2026-11", "2026-1-27", "2026-13-01", "2026-00-10", "2026-11-00", "2026-11-32", "2026-02-30", "2026-04-31",
            "2026-11-27T24:00:00", "2026-11-27T15:60", "2026-11-27T15:02:16.", "2026-11-27T15:02:16+2", "2026-11-27T15:02:16 garbage",
            "2026-11-27T", "27/11/2026", "2026-11-27T15:02:16+02:", "tomorrow", "2026-11-27T15:02:16+00:00x",
        ])
        func refuses(_ text: String) {
            #expect(ISO8601.parse(text) == nil, "\(text) was accepted as \(String(describing: ISO8601.parse(text)?.timeIntervalSince1970))")
        }

        @Test("February 29 exists in leap years only")
        func leapDay() {
            #expect(ISO8601.parse("2028-02-29") != nil)
            #expect(ISO8601.parse("2000-02-29") != nil)
            #expect(ISO8601.parse("2026-02-29") == nil)
            #expect(ISO8601.parse("2100-02-29") == nil)
        }

        @Test("what format writes, parse reads back to the same text", arguments: [
            "2026-11-27T15:02:16.728838+00:00", "2026-11-27T15:02:16+00:00", "2026-11-27T15:02:23.864520+00:00",
            "2000-02-29T23:59:59.999999+00:00", "1999-12-31T00:00:00.000001+00:00",
        ])
        func roundTrip(_ text: String) throws {
            #expect(ISO8601.format(try #require(ISO8601.parse(text))) == text)
        }
    }
}
