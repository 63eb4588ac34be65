import Conveyor
import Foundation
import Testing

extension WireTests {
    @Suite("kombu JSON type envelopes")
    struct KombuEnvelopes {
        /// 2026-11-27T15:02:16.728838+00:00
        static let instant = WireTests.date(1_795_791_736.728838)

        static func envelope(_ type: String, _ value: JSON) -> JSON {
            ["__type__": .string(type), "__value__": value]
        }

        @Test("datetime, date and time envelopes become their ISO text")
        func temporal() {
            #expect(Self.envelope("datetime", "2026-11-27T15:02:16.728838+00:00").unwrappingEnvelopes() == "2026-11-27T15:02:16.728838+00:00")
            #expect(Self.envelope("date", "2026-11-27").unwrappingEnvelopes() == "2026-11-27")
            #expect(Self.envelope("time", "15:02:16.728838").unwrappingEnvelopes() == "15:02:16.728838")
        }

        @Test("decimal envelopes become numbers, keeping integers whole")
        func decimal() {
            #expect(Self.envelope("decimal", "1.5").unwrappingEnvelopes() == .double(1.5))
            #expect(Self.envelope("decimal", "10").unwrappingEnvelopes() == .int(10))
            #expect(Self.envelope("decimal", "-0.25").unwrappingEnvelopes() == .double(-0.25))
            #expect(Self.envelope("decimal", "123456789012345678901234567890").unwrappingEnvelopes() == .bigInt("123456789012345678901234567890"))
            #expect(Self.envelope("decimal", "not a number").unwrappingEnvelopes() == "not a number")
        }

        @Test("uuid envelopes become the canonical hyphenated form")
        func uuid() {
            let value = Self.envelope("uuid", ["hex": "0123456789abcdef0123456789abcdef"])
            #expect(value.unwrappingEnvelopes() == "01234567-89ab-cdef-0123-456789abcdef")
        }

        @Test("bytes and base64 envelopes become their text")
        func bytes() {
            #expect(Self.envelope("bytes", "héllo").unwrappingEnvelopes() == "héllo")
            #expect(Self.envelope("base64", "aGVsbG8=").unwrappingEnvelopes() == "aGVsbG8=")
        }

        @Test("envelopes are unwrapped wherever they sit, including inside other values and in either key order")
        func nested() {
            let value: JSON = [
                "when": Self.envelope("datetime", "2026-11-27T15:02:16+00:00"),
                "list": [Self.envelope("decimal", "2.5"), ["deep": Self.envelope("uuid", ["hex": "ffffffffffffffffffffffffffffffff"])]],
                "reversed": ["__value__": "2026-01-01", "__type__": "date"],
                "plain": 1,
            ]
            let expected: JSON = [
                "when": "2026-11-27T15:02:16+00:00",
                "list": [2.5, ["deep": "ffffffff-ffff-ffff-ffff-ffffffffffff"]],
                "reversed": "2026-01-01",
                "plain": 1,
            ]
            #expect(value.unwrappingEnvelopes() == expected)
        }

        @Test("objects that only look like envelopes are left alone")
        func lookalikes() {
            let extraKey: JSON = ["__type__": "datetime", "__value__": "2026-11-27", "other": 1]
            #expect(extraKey.unwrappingEnvelopes() == extraKey)
            let unknownType = Self.envelope("set", [1, 2])
            #expect(unknownType.unwrappingEnvelopes() == unknownType)
            let oneKey: JSON = ["__type__": "datetime"]
            #expect(oneKey.unwrappingEnvelopes() == oneKey)
            #expect(KombuEnvelope.unwrap(["a": 1, "b": 2]) == nil)
        }

        struct Appointment: Codable, Equatable {
            var title: String
            var at: Date
            var attendees: Int
        }

        func decodedDate(_ at: JSON) throws -> Date {
            let value: JSON = ["title": "standup", "at": at, "attendees": 3]
            let appointment = try value.decode(Appointment.self)
            #expect(appointment.title == "standup")
            #expect(appointment.attendees == 3)
            return appointment.at
        }

        @Test("a Codable Date decodes from a kombu datetime envelope")
        func dateFromEnvelope() throws {
            let date = try decodedDate(Self.envelope("datetime", "2026-11-27T15:02:16.728838+00:00"))
            #expect(abs(date.timeIntervalSince(Self.instant)) < 1e-6)
        }

        @Test("a Codable Date decodes from Python isoformat text: micros, offsets, Z, naive (UTC)", arguments: [
            "2026-11-27T15:02:16.728838+00:00",
            "2026-11-27T17:02:16.728838+02:00",
            "2026-11-27T10:32:16.728838-04:30",
            "2026-11-27T15:02:16.728838Z",
            "2026-11-27T15:02:16.728838",
            "2026-11-27 15:02:16.728838",
        ])
        func dateFromISOText(_ text: String) throws {
            let date = try decodedDate(.string(text))
            #expect(abs(date.timeIntervalSince(Self.instant)) < 1e-6, "\(text) read as \(date.timeIntervalSince1970)")
        }

        @Test("a Codable Date also decodes from epoch seconds; garbage is a decoding error")
        func dateFromNumberAndGarbage() throws {
            #expect(try decodedDate(1_795_791_736.5) == WireTests.date(1_795_791_736.5))
            #expect(throws: DecodingError.self) { try decodedDate("next tuesday") }
        }

        @Test("JSON(encoding:) writes a Date as kombu's datetime envelope")
        func encodesEnvelope() throws {
            let json = try JSON(encoding: Appointment(title: "standup", at: Self.instant, attendees: 3))
            #expect(json["at"] == Self.envelope("datetime", "2026-11-27T15:02:16.728838+00:00"))
            #expect(json["at"]?.text() == #"{"__type__": "datetime", "__value__": "2026-11-27T15:02:16.728838+00:00"}"#)
            #expect(KombuEnvelope.datetime(Self.instant).text() == #"{"__type__": "datetime", "__value__": "2026-11-27T15:02:16.728838+00:00"}"#)
            #expect(json["title"] == "standup")
            #expect(json["attendees"] == 3)
        }

        @Test("JSON(encoding:) writes object keys in one stable (sorted) order, not Foundation's per-process hash order")
        func stableKeyOrder() throws {
            struct Wide: Codable {
                var zulu = 1, yankee = 2, xray = 3, whiskey = 4, victor = 5, uniform = 6, tango = 7, sierra = 8
                var nested = ["b": 1, "a": 2, "c": 3]
            }
            let json = try JSON(encoding: Wide())
            #expect(json.object?.keys == ["nested", "sierra", "tango", "uniform", "victor", "whiskey", "xray", "yankee", "zulu"])
            #expect(json["nested"]?.object?.keys == ["a", "b", "c"])
        }

        @Test("what JSON(encoding:) writes, decode(_:) reads back")
        func encodeDecodeRoundTrip() throws {
            let original = Appointment(title: "é 😀", at: Self.instant, attendees: 12)
            let back = try JSON(encoding: original).decode(Appointment.self)
            #expect(back.title == original.title)
            #expect(back.attendees == original.attendees)
            #expect(abs(back.at.timeIntervalSince(original.at)) < 1e-6)
        }

        @Test("decoding JSON as JSON keeps it as it is, key order included")
        func jsonAsJSON() throws {
            let value: JSON = ["z": 1, "a": Self.envelope("date", "2026-11-27")]
            #expect(try value.decode(JSON.self) == value)
        }
    }
}
