import Foundation
@testable import Repositories
import Testing
import TestSupport

/// Segments written and read back: the table, the contents and every posting list, against
/// the blobs they were made of.
@Suite("index segments")
struct IndexSegmentTests {
    /// A scratch directory removed at the end.
    final class Scratch: Sendable {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("conveyor-segments-\(UUID().uuidString)").path
        init() throws { try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true) }
        deinit { try? FileManager.default.removeItem(atPath: path) }
    }

    @Test("a written segment reads back every blob's kind, size, lines, content and exactly the postings of its trigrams")
    func roundTrip() throws {
        let scratch = try Scratch()
        var generator = SeededGenerator(seed: 11)
        let alphabet = Array("abcXYZ_ \n(){}é".utf8)
        var blobs: [(id: String, bytes: [UInt8], kind: Segment.BlobKind)] = []
        for number in 0..<120 {
            var bytes = (0..<Int.random(in: 0...600, using: &generator)).map { _ in alphabet.randomElement(using: &generator)! }
            var kind = Segment.BlobKind.text
            if number % 10 == 3 {
                bytes.insert(0, at: min(bytes.count, 20))
                kind = .binary
            } else if number % 10 == 7 {
                bytes += [UInt8](repeating: UInt8(ascii: "q"), count: 1_200)
                kind = .tooLarge
            }
            let id = String(format: "%040x", number * 7919 + 1)
            blobs.append((id, bytes, kind))
        }
        blobs.sort { $0.id < $1.id }
        let writer = try SegmentWriter(directory: scratch.path)
        for blob in blobs {
            try blob.bytes.withUnsafeBytes { raw in
                #expect(SegmentWriter.classify(raw, limit: 1_000) == blob.kind)
                try writer.add(id: blob.id, kind: blob.kind, size: raw.count, lines: SegmentWriter.lines(raw), content: raw)
            }
        }
        let name = try writer.finish()
        #expect(try FileManager.default.contentsOfDirectory(atPath: scratch.path) == [name], "only the renamed segment is left")
        let segment = try Segment(path: scratch.path + "/" + name, name: name)
        #expect(segment.blobCount == blobs.count)
        var expected: [UInt32: [UInt32]] = [:]
        for (ordinal, blob) in blobs.enumerated() {
            #expect(segment.ordinal(of: blob.id) == ordinal)
            #expect(segment.id(ordinal) == blob.id)
            let entry = segment.blob(ordinal)
            #expect(entry.kind == blob.kind && entry.size == blob.bytes.count)
            let newlines = blob.bytes.filter { $0 == 10 }.count
            #expect(entry.lines == newlines + (blob.bytes.last.map { $0 != 10 ? 1 : 0 } ?? 0))
            #expect(Array(segment.content(ordinal)) == (blob.kind == .text ? blob.bytes : []))
            guard blob.kind == .text else { continue }
            for trigram in trigrams(of: blob.bytes) { expected[trigram, default: []].append(UInt32(ordinal)) }
        }
        #expect(segment.trigramCount == expected.count)
        for (trigram, ordinals) in expected {
            #expect(segment.postings(Trigram(packed: trigram)) == ordinals, "\(Trigram(packed: trigram))")
        }
        #expect(segment.postings(Trigram(packed: 0x01_02_03)).isEmpty)
        #expect(segment.ordinal(of: String(repeating: "f", count: 40)) == nil)
        #expect(segment.ordinal(of: "not an id") == nil)
    }

    @Test("case folds: upper and lower case ASCII share trigrams; other bytes stay themselves")
    func folding() throws {
        let scratch = try Scratch()
        let writer = try SegmentWriter(directory: scratch.path)
        let text = Array("Hello ÉTÉ".utf8)
        try text.withUnsafeBytes { try writer.add(id: String(repeating: "a", count: 40), kind: .text, size: $0.count, lines: 1, content: $0) }
        let name = try writer.finish()
        let segment = try Segment(path: scratch.path + "/" + name, name: name)
        #expect(segment.postings(Trigram(UInt8(ascii: "h"), UInt8(ascii: "E"), UInt8(ascii: "l"))) == [0])
        #expect(segment.postings(Trigram(UInt8(ascii: "L"), UInt8(ascii: "L"), UInt8(ascii: "O"))) == [0])
        // "É" is 0xC3 0x89: kept as it is, so its lower case (0xC3 0xA9) is another trigram.
        #expect(segment.postings(Trigram(0xC3, 0x89, UInt8(ascii: "t"))) == [0])
        #expect(segment.postings(Trigram(0xC3, 0xA9, UInt8(ascii: "t"))).isEmpty)
    }

    @Test("blobs out of id order, a truncated file and a file that is not a segment are refused")
    func refusals() throws {
        let scratch = try Scratch()
        let writer = try SegmentWriter(directory: scratch.path)
        let empty = UnsafeRawBufferPointer(start: nil, count: 0)
        try writer.add(id: String(repeating: "b", count: 40), kind: .text, size: 0, lines: 0, content: empty)
        #expect(throws: IndexError.self) {
            try writer.add(id: String(repeating: "a", count: 40), kind: .text, size: 0, lines: 0, content: empty)
        }
        writer.abandon()
        #expect(try FileManager.default.contentsOfDirectory(atPath: scratch.path).isEmpty, "abandon removes the temporary file")

        let good = try SegmentWriter(directory: scratch.path)
        let bytes = Array("some text to index\n".utf8)
        try bytes.withUnsafeBytes { try good.add(id: String(repeating: "c", count: 40), kind: .text, size: $0.count, lines: 1, content: $0) }
        let name = try good.finish()
        let full = try [UInt8](Data(contentsOf: URL(fileURLWithPath: scratch.path + "/" + name)))
        try Data(full.prefix(full.count - 5)).write(to: URL(fileURLWithPath: scratch.path + "/seg-truncated.seg"))
        #expect(throws: IndexError.self) { try Segment(path: scratch.path + "/seg-truncated.seg", name: "seg-truncated.seg") }
        try Data("not a segment at all, but long enough to hold a header of sixty-four bytes".utf8)
            .write(to: URL(fileURLWithPath: scratch.path + "/seg-text.seg"))
        #expect(throws: IndexError.self) { try Segment(path: scratch.path + "/seg-text.seg", name: "seg-text.seg") }
    }

    @Test("the trigram sort is stable: each trigram's ordinals stay in the order they came")
    func stableSort() {
        var generator = SeededGenerator(seed: 5)
        let pairs = (0..<5_000).map { ordinal in UInt64.random(in: 0...0xFF_FFFF, using: &generator) << 32 | UInt64(ordinal / 3) }
        let sorted = SegmentWriter.sortByTrigram(pairs)
        #expect(sorted == pairs.sorted())
    }
}
