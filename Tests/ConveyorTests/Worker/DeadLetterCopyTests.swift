import AMQP
@testable import Conveyor
import Foundation
import Testing

@Suite("Dead-letter copies always fit in one frame")
struct DeadLetterCopyTests {
    static let budget = PublishLimits().propertiesBudget
    static let origin = DeadLetterCopy.Origin(queue: "work", exchange: "", routingKey: "work", worker: "w1@host",
                                              time: Date(timeIntervalSince1970: 1_700_000_000))

    /// Celery-like properties whose `task` header is `nameBytes` long.
    static func delivery(nameBytes: Int, extra: FieldTable = [:]) -> BasicProperties {
        var headers: FieldTable = ["lang": .string("py"), "task": .string(String(repeating: "n", count: nameBytes)),
                                   "id": .string("4f0c2a9e-1b7d-4c3a-8e6f-5d2b1a0c9e8f"), "retries": .int64(0),
                                   "root_id": .string("4f0c2a9e-1b7d-4c3a-8e6f-5d2b1a0c9e8f")]
        headers.entries += extra.entries
        return BasicProperties(contentType: "application/json", contentEncoding: "utf-8", headers: headers, deliveryMode: 2,
                               priority: 0, correlationId: "4f0c2a9e-1b7d-4c3a-8e6f-5d2b1a0c9e8f", expiration: "60000")
    }

    @Test("a 70 KB task name: every original header is kept, the error that repeats the name is capped")
    func cappedError() throws {
        let original = Self.delivery(nameBytes: 70_000)
        let reason = RejectionReason.unknownTask(String(repeating: "n", count: 70_000))
        let copy = DeadLetterCopy(original: original, reason: reason, origin: Self.origin, budget: Self.budget)
        #expect(copy.reason == reason)
        #expect(copy.properties.encodedSize <= Self.budget)
        let headers = try #require(copy.properties.headers)
        for entry in original.headers ?? [:] { #expect(headers[entry.key] == entry.value, "\(entry.key)") }
        let error = try #require(headers[DeadLetterHeader.error]?.stringValue)
        #expect(error.utf8.count <= DeadLetterCopy.maxErrorBytes)
        #expect(error.hasPrefix("no task named 'nnn"))
        #expect(error.hasSuffix("…"))
        #expect(headers[DeadLetterHeader.reason] == .string("unknown-task"))
        #expect(headers[DeadLetterHeader.queue] == .string("work"))
        #expect(headers[DeadLetterHeader.worker] == .string("w1@host"))
        #expect(headers[DeadLetterHeader.time] == .string("2023-11-14T22:13:20+00:00"))
        #expect(headers[DeadLetterHeader.originalReason] == nil)
        #expect(copy.properties.expiration == nil, "a dead letter must not expire")
        #expect(copy.properties.deliveryMode == 2)
        #expect(copy.properties.correlationId == original.correlationId)
    }

    @Test("headers that leave no room: the small ones are kept, the task id first, and the reason says headers-too-large")
    func reducedHeaders() throws {
        // Arrived (it fits a frame), but not with the dead-letter headers on top.
        let original = Self.delivery(nameBytes: Self.budget - 600)
        #expect(original.encodedSize <= Self.budget)
        let reason = RejectionReason.unknownTask(String(repeating: "n", count: Self.budget - 600))
        let copy = DeadLetterCopy(original: original, reason: reason, origin: Self.origin, budget: Self.budget)
        #expect(copy.properties.encodedSize <= Self.budget)
        #expect(copy.reason.code == "headers-too-large")
        let headers = try #require(copy.properties.headers)
        #expect(headers[DeadLetterHeader.reason] == .string("headers-too-large"))
        #expect(headers[DeadLetterHeader.originalReason] == .string("unknown-task"))
        #expect(headers["id"] == original.headers?["id"])
        #expect(headers["lang"] == .string("py"))
        #expect(headers["task"] == nil)
        let error = try #require(headers[DeadLetterHeader.error]?.stringValue)
        #expect(error.contains("dropped task ("), "\(error)")
        #expect(error.contains("original reason: unknown-task"), "\(error)")
        #expect(error.utf8.count <= DeadLetterCopy.maxErrorBytes)
        // The properties other than headers are the original's.
        #expect(copy.properties.contentType == "application/json")
        #expect(copy.properties.correlationId == original.correlationId)
    }

    @Test("thousands of small headers: as many as fit are kept, and the task id even when it comes last")
    func manySmallHeaders() throws {
        var headers = FieldTable((0..<2_000).map { FieldTable.Entry(key: "h\($0)", value: .string(String(repeating: "v", count: 60))) })
        headers["id"] = .string("the-id")
        let original = BasicProperties(contentType: "application/json", headers: headers)
        #expect(original.encodedSize > Self.budget)  // as a client may try; the broker would need a bigger frame
        let copy = DeadLetterCopy(original: original, reason: .malformedBody("x"), origin: Self.origin, budget: Self.budget)
        #expect(copy.properties.encodedSize <= Self.budget)
        #expect(copy.reason.code == "headers-too-large")
        let kept = try #require(copy.properties.headers)
        #expect(kept["id"] == .string("the-id"))
        #expect(kept.count > 1_000, "most small headers still fit: \(kept.count)")
        #expect(kept["h0"] != nil)
    }

    @Test("a replayed letter that dies again carries one set of reason headers, the new one")
    func replacesOwnHeaders() throws {
        let first = DeadLetterCopy(original: Self.delivery(nameBytes: 10), reason: .malformedBody("first"), origin: Self.origin,
                                   budget: Self.budget)
        let second = DeadLetterCopy(original: first.properties, reason: .unknownTask("x"), origin: Self.origin, budget: Self.budget)
        let headers = try #require(second.properties.headers)
        #expect(headers.entries.filter { $0.key == DeadLetterHeader.reason }.count == 1)
        #expect(headers[DeadLetterHeader.reason] == .string("unknown-task"))
    }

    @Test("a frame far too small for the original properties still gets the reason headers")
    func minimal() throws {
        let original = BasicProperties(contentType: "application/json", headers: ["id": .string("i")], correlationId: String(repeating: "c", count: 255),
                                       replyTo: String(repeating: "r", count: 255), messageId: String(repeating: "m", count: 255),
                                       type: String(repeating: "t", count: 255), appId: String(repeating: "a", count: 255))
        let copy = DeadLetterCopy(original: original, reason: .malformedBody("x"), origin: Self.origin, budget: 1_500)
        #expect(copy.properties.encodedSize <= 1_500)
        #expect(copy.properties.correlationId == nil)
        #expect(copy.properties.headers?[DeadLetterHeader.reason] == .string("headers-too-large"))
    }

    @Test("on arrival, properties must leave the reserve free in the frame")
    func arrivalCheck() {
        #expect(DeadLetterCopy.fits(Self.delivery(nameBytes: 120_000), budget: Self.budget))
        let limit = Self.budget - DeadLetterCopy.reserve
        let base = Self.delivery(nameBytes: 0).encodedSize
        #expect(DeadLetterCopy.fits(Self.delivery(nameBytes: limit - base), budget: Self.budget))
        #expect(!DeadLetterCopy.fits(Self.delivery(nameBytes: limit - base + 1), budget: Self.budget))
        #expect(DeadLetterCopy.headersTooLarge(size: 130_000, budget: Self.budget).code == "headers-too-large")
    }

    @Test("capping text never splits a character and never exceeds the byte budget")
    func capping() {
        #expect("short".cappedUTF8(10) == "short")
        #expect("abcdefghij".cappedUTF8(10) == "abcdefghij")
        #expect("abcdefghijk".cappedUTF8(10) == "abcdefg…")
        let emoji = String(repeating: "😀", count: 10)  // 4 bytes each
        let cut = emoji.cappedUTF8(13)
        #expect(cut == "😀😀…")
        #expect(cut.utf8.count <= 13)
        #expect("ééé".cappedUTF8(3) == "…")
        #expect("ééé".cappedUTF8(2) == "é")
    }
}
