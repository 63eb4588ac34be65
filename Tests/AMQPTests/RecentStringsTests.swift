@testable import AMQP
import IOSupport
import TestSupport
import Testing

/// Long strings a connection decodes again (a task's id as its `correlation_id` and `root_id`,
/// its origin, its consumer tag) are served from the ones decoded lately: the same storage, no
/// new allocation, and always the string a fresh decode would give.
@Suite("Recent strings of a connection")
struct RecentStringsTests {
    /// Where the string's UTF-8 lives (nil for one stored inside the value itself).
    static func storage(_ string: String) -> UnsafeRawPointer? {
        string.utf8.withContiguousStorageIfAvailable { UnsafeRawPointer($0.baseAddress) } ?? nil
    }

    static func decode(_ bytes: [UInt8], _ strings: inout RecentStrings, validating: Bool = false) -> String? {
        bytes.withUnsafeBufferPointer { validating ? strings.validated($0) : strings.string($0) }
    }

    @Test("the same long bytes give the same storage; other bytes, short ones and fresh decodes stay equal to a plain decode")
    func reuse() throws {
        var strings = RecentStrings()
        let id = Array("3c1c8a4e-5a0f-4a4b-9d0e-2f6b8c1d7e90".utf8)
        let first = try #require(Self.decode(id, &strings))
        let again = try #require(Self.decode(id, &strings, validating: true))
        #expect(first == String(decoding: id, as: UTF8.self))
        #expect(again == first)
        #expect(Self.storage(first) != nil)
        #expect(Self.storage(again) == Self.storage(first), "a repeated long string shares the first one's storage")

        // The same length, one byte apart: not confused with it.
        var other = id
        other[35] = UInt8(ascii: "1")
        let different = try #require(Self.decode(other, &strings))
        #expect(different == String(decoding: other, as: UTF8.self))
        #expect(different != first)
        #expect(Self.decode(Array("short".utf8), &strings) == "short")
        #expect(Self.decode([], &strings) == "")
    }

    @Test("bytes that are not UTF-8: repaired by string(_:), refused by validated(_:), and never served as the repaired text")
    func invalidUTF8() {
        var strings = RecentStrings()
        let bad = [UInt8](repeating: 0xFF, count: 20)
        let repaired = Self.decode(bad, &strings)
        #expect(repaired == String(repeating: "\u{FFFD}", count: 20))
        #expect(Self.decode(bad, &strings, validating: true) == nil)
        // The repaired text's own bytes are a different string; they decode to it, not to the bad bytes.
        let repairedBytes = Array(String(repeating: "\u{FFFD}", count: 20).utf8)
        #expect(Self.decode(repairedBytes, &strings, validating: true) == String(repeating: "\u{FFFD}", count: 20))
    }

    @Test("past its capacity the least recently used string goes; one used all along stays")
    func eviction() throws {
        var strings = RecentStrings()
        let origin = Array("gen4242@worker-host-01.example".utf8)
        let kept = try #require(Self.decode(origin, &strings))
        for index in 0..<(RecentStrings.capacity * 3) {
            let unique = Array("task-id-0000-0000-0000-\(1_000_000 + index)".utf8)
            #expect(Self.decode(unique, &strings) == String(decoding: unique, as: UTF8.self))
            let again = try #require(Self.decode(origin, &strings))
            #expect(Self.storage(again) == Self.storage(kept), "the string in use each time was evicted at \(index)")
        }
        // One not used since: long gone, but still decoded right.
        let early = Array("task-id-0000-0000-0000-1000000".utf8)
        #expect(Self.decode(early, &strings) == String(decoding: early, as: UTF8.self))
    }
}

/// `String(validatingUTF8Bytes:)` (the hot path's validation, without the generic
/// initialiser's metadata lookups) agrees with `String(validating:as:)` on every kind of input.
@Suite("UTF-8 validation of raw bytes")
struct UTF8ValidationTests {
    @Test("valid, repaired-looking and invalid inputs: the same answer as String(validating:as:)")
    func agreesWithTheStandardLibrary() {
        var inputs: [[UInt8]] = [
            [], Array("celery".utf8), Array("héllo wörld 😀 ✓".utf8),
            [0xEF, 0xBF, 0xBD],  // U+FFFD itself, valid
            [0xFF], [0xC3], [0xE2, 0x82], [0xF0, 0x9F, 0x98],  // invalid and truncated
            [0xC0, 0xAF], [0xE0, 0x80, 0xAF],  // overlong
            [0xED, 0xA0, 0x80],  // a surrogate
            [0xF4, 0x90, 0x80, 0x80],  // beyond U+10FFFF
            Array("ok".utf8) + [0xF0, 0x9F, 0x98] + Array("then more text".utf8),
        ]
        var generator = SeededGenerator(seed: 0xC0FFEE)
        for _ in 0..<500 {
            inputs.append((0..<Int.random(in: 0...24, using: &generator)).map { _ in UInt8.random(in: .min ... .max, using: &generator) })
        }
        for input in inputs {
            let expected = String(validating: input, as: UTF8.self)
            let got = input.withUnsafeBufferPointer { String(validatingUTF8Bytes: $0) }
            #expect(got == expected, "\(input)")
            #expect(got.map { Array($0.utf8) == input } ?? true)
        }
    }
}

extension RecentStringsTests {
    @Test("a string longer than a short string's 255 bytes is decoded right each time and never kept")
    func longValuesNotKept() throws {
        var strings = RecentStrings()
        let long = [UInt8](repeating: UInt8(ascii: "x"), count: RecentStrings.keptLimit + 1)
        let first = try #require(Self.decode(long, &strings, validating: true))
        let again = try #require(Self.decode(long, &strings, validating: true))
        #expect(first == String(decoding: long, as: UTF8.self))
        #expect(again == first)
        #expect(Self.storage(again) != Self.storage(first), "a long value was kept")
        // At the limit it is kept.
        let edge = [UInt8](repeating: UInt8(ascii: "y"), count: RecentStrings.keptLimit)
        let kept = try #require(Self.decode(edge, &strings))
        #expect(Self.storage(try #require(Self.decode(edge, &strings))) == Self.storage(kept))
    }
}
