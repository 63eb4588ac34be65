import AMQP
@testable import Conveyor
import Foundation
import Testing

extension WireTests {
    /// Dates go where Python's `datetime` can follow them: the years 1 to 9999. Formatting any
    /// date is total (a `retry(after: .infinity)` once trapped it); a message's numeric
    /// `eta`/`expires` outside those years is refused like any other unreadable time.
    @Suite("Dates: the years 1...9999, whatever number arrives")
    struct DateRange {
        @Test("format never traps: dates past either end are written as the nearest end, NaN as the earliest", arguments: [
            (Double.infinity, "9999-12-31T23:59:59.999999+00:00"), (1e300, "9999-12-31T23:59:59.999999+00:00"),
            (Double(ISO8601.latestSecond) + 1, "9999-12-31T23:59:59.999999+00:00"),
            (Double(ISO8601.latestSecond) + 0.9999999, "9999-12-31T23:59:59.999999+00:00"),
            (Double(ISO8601.latestSecond), "9999-12-31T23:59:59+00:00"),
            (Double(ISO8601.earliestSecond), "0001-01-01T00:00:00+00:00"),
            (-Double.infinity, "0001-01-01T00:00:00+00:00"), (-1e300, "0001-01-01T00:00:00+00:00"), (Double.nan, "0001-01-01T00:00:00+00:00"),
        ])
        func formatIsTotal(_ seconds: Double, _ text: String) {
            #expect(ISO8601.format(WireTests.date(seconds)) == text, "\(seconds)")
        }

        @Test("isRepresentable holds for the years 1...9999 and for nothing else")
        func representable() {
            #expect(ISO8601.isRepresentable(WireTests.date(0)))
            #expect(ISO8601.isRepresentable(WireTests.date(Double(ISO8601.earliestSecond))))
            #expect(ISO8601.isRepresentable(WireTests.date(Double(ISO8601.latestSecond) + 0.5)))
            #expect(ISO8601.isRepresentable(Date.distantFuture))
            for seconds in [Double(ISO8601.latestSecond) + 1, Double(ISO8601.earliestSecond) - 1, .nan, .infinity, -.infinity, 1e300] {
                #expect(!ISO8601.isRepresentable(WireTests.date(seconds)), "\(seconds)")
            }
        }

        @Test("parse reads the first and last days Python knows, and refuses the year 0")
        func parseEnds() throws {
            #expect(try #require(ISO8601.parse("0001-01-01T00:00:00+00:00")).timeIntervalSince1970 == Double(ISO8601.earliestSecond))
            #expect(try #require(ISO8601.parse("9999-12-31T23:59:59+00:00")).timeIntervalSince1970 == Double(ISO8601.latestSecond))
            #expect(ISO8601.parse("0000-12-31T00:00:00+00:00") == nil)
        }

        @Test("a numeric eta or expires header outside the years 1...9999 is an invalid header; inside, it is read", arguments: [
            FieldValue.double(1e300), .double(.infinity), .double(-.infinity), .double(.nan), .double(-1e300), .int64(Int64.max),
            .int64(Int64.min), .timestamp(UInt64.max), .double(Double(ISO8601.latestSecond) + 1),
        ])
        func numericTimes(_ value: FieldValue) {
            for header in ["eta", "expires"] {
                let properties = BasicProperties(contentType: "application/json", headers: ["task": .string("t"), "id": .string("i"), header: value])
                guard case let .failure(reason) = TaskMessage.decode(properties: properties, body: Array("[[], {}, {}]".utf8)) else {
                    Issue.record("\(header) \(value) accepted")
                    continue
                }
                #expect(reason.code == "invalid-header" && reason.detail.contains(header), "\(reason)")
            }
        }

        @Test("numeric times at the ends of the range are read")
        func numericTimeEdges() throws {
            for seconds in [Double(ISO8601.earliestSecond), Double(ISO8601.latestSecond), 1_795_791_736.5] {
                let properties = BasicProperties(contentType: "application/json",
                                                 headers: ["task": .string("t"), "id": .string("i"), "eta": .double(seconds)])
                let message = try TaskMessage.decode(properties: properties, body: Array("[[], {}, {}]".utf8)).get()
                #expect(message.eta == WireTests.date(seconds))
            }
        }

        /// Found by `ops/fuzz iso8601`: the offset was applied after the range check, so
        /// `0001-01-01T00:00:00+00:15` parsed to a time before the year 1, which `format` wrote
        /// as 0001-01-01T00:00:00, a quarter of an hour off, and an eta header so written read
        /// back as another time.
        @Test("an offset that moves a time out of the years 1...9999 makes it unreadable", arguments: [
            "0001-01-01T00:00:00+00:15", "0001-01-01T00:14:59.5+00:15", "9999-12-31T23:59:59-00:01", "9999-12-31T23:45:00-14:00",
        ])
        func offsetsOutOfRange(_ text: String) {
            #expect(ISO8601.parse(text) == nil)
        }

        @Test("an offset that keeps a time inside the years 1...9999 is read, and written back as the same instant", arguments: [
            "0001-01-01T00:15:00+00:15", "0001-01-01T00:00:00-00:15", "9999-12-31T23:59:59+00:01", "9999-12-31T10:00:00-13:59",
        ])
        func offsetsInRange(_ text: String) throws {
            let date = try #require(ISO8601.parse(text))
            #expect(ISO8601.parse(ISO8601.format(date)) == date)
        }
    }
}
