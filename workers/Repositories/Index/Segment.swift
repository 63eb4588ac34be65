import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// One immutable segment file of the search index: a set of blobs (by id), the folded
/// trigrams of the text ones, and their contents, so a search verifies candidates without git.
///
/// Layout (every integer little-endian; offsets from the start of the file):
///
/// ```
/// header (64 bytes):
///   magic "CVIDXSG1" · idLength u32 (20 or 32) · blobCount u32 · trigramCount u32 · 0 u32
///   blobTable u64 · trigramTable u64 · postings u64 · postingsEnd u64 · 0 u64
/// contents: the text blobs' bytes, one after another (written first, while blobs are read)
/// blob table: blobCount entries sorted by id, each
///   id (idLength bytes, binary) · kind u8 (0 text, 1 binary, 2 too large) · size u64 · lines u64
///   · content offset u64 (text blobs only; length = size)
/// trigram table: trigramCount entries sorted by trigram, each
///   trigram u32 · count u32 · posting offset u64 (from `postings`)
/// postings: per trigram, the ordinals (positions in the blob table) of the text blobs holding
///   it, ascending, each as a LEB128 varint of its difference to the previous one (the first
///   one's to -1, so every difference is at least 1)
/// ```
///
/// A blob's ordinal is its position in the blob table, so a lookup by id is a binary search
/// and a posting list needs no second mapping. Binary and too-large blobs are listed (their
/// kind spares reading them again) but hold no content and no postings.
///
/// The file is mapped read-only; queries binary-search the tables and decode only the
/// posting lists they ask for. The mapping stays valid after the file is deleted (a snapshot
/// in use keeps its segments).
final class Segment: @unchecked Sendable {
    /// The blob kinds a segment records.
    enum BlobKind: UInt8, Sendable {
        case text = 0, binary = 1, tooLarge = 2
    }

    /// What the table says of one blob.
    struct Blob: Sendable, Hashable {
        var kind: BlobKind
        var size: Int
        var lines: Int
        var contentOffset: Int
    }

    static let magic = Array("CVIDXSG1".utf8)
    static let headerSize = 64
    static let trigramEntrySize = 16

    /// File name inside the segments directory.
    let name: String
    let base: UnsafeRawBufferPointer
    let idLength: Int
    let blobCount: Int
    let trigramCount: Int
    let blobTable: Int
    let trigramTable: Int
    let postings: Int
    let postingsEnd: Int
    let blobEntrySize: Int

    /// Maps `path`. - Throws: `IndexError` when the file is not a well-formed segment.
    init(path: String, name: String) throws {
        self.name = name
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw IndexError(.fileSystem, "cannot open segment \(name): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0, Int(info.st_size) >= Self.headerSize else {
            throw IndexError(.damaged, "segment \(name) is shorter than its header")
        }
        let length = Int(info.st_size)
        guard let pointer = mmap(nil, length, PROT_READ, MAP_SHARED, fd, 0), pointer != MAP_FAILED else {
            throw IndexError(.fileSystem, "cannot map segment \(name): \(String(cString: strerror(errno)))")
        }
        base = UnsafeRawBufferPointer(start: pointer, count: length)
        guard base.prefix(8).elementsEqual(Self.magic) else {
            munmap(pointer, length)
            throw IndexError(.damaged, "segment \(name) has no segment header")
        }
        idLength = Int(base.loadUnaligned(fromByteOffset: 8, as: UInt32.self).littleEndian)
        blobCount = Int(base.loadUnaligned(fromByteOffset: 12, as: UInt32.self).littleEndian)
        trigramCount = Int(base.loadUnaligned(fromByteOffset: 16, as: UInt32.self).littleEndian)
        blobTable = Int(base.loadUnaligned(fromByteOffset: 24, as: UInt64.self).littleEndian)
        trigramTable = Int(base.loadUnaligned(fromByteOffset: 32, as: UInt64.self).littleEndian)
        postings = Int(base.loadUnaligned(fromByteOffset: 40, as: UInt64.self).littleEndian)
        postingsEnd = Int(base.loadUnaligned(fromByteOffset: 48, as: UInt64.self).littleEndian)
        blobEntrySize = idLength + 25
        let wellFormed = (idLength == 20 || idLength == 32) && blobTable >= Self.headerSize
            && trigramTable == blobTable + blobCount * blobEntrySize
            && postings == trigramTable + trigramCount * Self.trigramEntrySize
            && postingsEnd >= postings && postingsEnd <= length
        guard wellFormed else {
            munmap(pointer, length)
            throw IndexError(.damaged, "segment \(name) has inconsistent tables")
        }
    }

    deinit { munmap(UnsafeMutableRawPointer(mutating: base.baseAddress), base.count) }

    /// The ordinal of the blob with this id (hex), if the segment holds it.
    func ordinal(of id: String) -> Int? {
        guard let binary = BlobID.binary(id), binary.count == idLength else { return nil }
        return binary.withUnsafeBytes { ordinal(ofBinary: $0) }
    }

    func ordinal(ofBinary id: UnsafeRawBufferPointer) -> Int? {
        var low = 0, high = blobCount
        while low < high {
            let middle = (low + high) / 2
            let entry = UnsafeRawBufferPointer(rebasing: base[(blobTable + middle * blobEntrySize)...].prefix(idLength))
            let order = memcmp(entry.baseAddress!, id.baseAddress!, idLength)
            if order == 0 { return middle }
            if order < 0 { low = middle + 1 } else { high = middle }
        }
        return nil
    }

    /// The table entry at `ordinal`.
    func blob(_ ordinal: Int) -> Blob {
        let entry = blobTable + ordinal * blobEntrySize + idLength
        return Blob(kind: BlobKind(rawValue: base[entry]) ?? .binary,
                    size: Int(base.loadUnaligned(fromByteOffset: entry + 1, as: UInt64.self).littleEndian),
                    lines: Int(base.loadUnaligned(fromByteOffset: entry + 9, as: UInt64.self).littleEndian),
                    contentOffset: Int(base.loadUnaligned(fromByteOffset: entry + 17, as: UInt64.self).littleEndian))
    }

    /// The blob id (hex) at `ordinal`.
    func id(_ ordinal: Int) -> String {
        BlobID.hex(UnsafeRawBufferPointer(rebasing: base[(blobTable + ordinal * blobEntrySize)...].prefix(idLength)))
    }

    /// The bytes of a text blob (empty for the others, or when the table points outside the file).
    func content(_ ordinal: Int) -> UnsafeRawBufferPointer {
        let blob = blob(ordinal)
        guard blob.kind == .text, blob.contentOffset >= Self.headerSize, blob.contentOffset + blob.size <= blobTable else {
            return UnsafeRawBufferPointer(rebasing: base[0..<0])
        }
        return UnsafeRawBufferPointer(rebasing: base[blob.contentOffset..<(blob.contentOffset + blob.size)])
    }

    /// The ordinals of the text blobs holding `trigram`, ascending.
    func postings(_ trigram: Trigram) -> [UInt32] {
        var low = 0, high = trigramCount
        while low < high {
            let middle = (low + high) / 2
            let value = base.loadUnaligned(fromByteOffset: trigramTable + middle * Self.trigramEntrySize, as: UInt32.self).littleEndian
            if value == trigram.value { return decode(entry: trigramTable + middle * Self.trigramEntrySize) }
            if value < trigram.value { low = middle + 1 } else { high = middle }
        }
        return []
    }

    private func decode(entry: Int) -> [UInt32] {
        let count = Int(base.loadUnaligned(fromByteOffset: entry + 4, as: UInt32.self).littleEndian)
        var offset = postings + Int(base.loadUnaligned(fromByteOffset: entry + 8, as: UInt64.self).littleEndian)
        var result: [UInt32] = []
        result.reserveCapacity(count)
        var previous: Int64 = -1
        for _ in 0..<count {
            var value: UInt64 = 0
            var shift: UInt64 = 0
            while offset < postingsEnd {
                let byte = base[offset]
                offset += 1
                value |= UInt64(byte & 0x7F) << shift
                shift += 7
                if byte < 0x80 || shift > 35 { break }
            }
            previous += Int64(value)
            guard previous >= 0, previous < blobCount else { break }
            result.append(UInt32(previous))
        }
        return result
    }
}

/// Blob ids between hex (as git prints them) and binary (as segments keep them).
enum BlobID {
    static func binary(_ hex: String) -> [UInt8]? {
        let digits = Array(hex.utf8)
        guard digits.count == 40 || digits.count == 64 else { return nil }
        var bytes = [UInt8](repeating: 0, count: digits.count / 2)
        for index in bytes.indices {
            guard let high = nibble(digits[2 * index]), let low = nibble(digits[2 * index + 1]) else { return nil }
            bytes[index] = high << 4 | low
        }
        return bytes
    }

    static func hex(_ bytes: UnsafeRawBufferPointer) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var text: [UInt8] = []
        text.reserveCapacity(bytes.count * 2)
        for byte in bytes {
            text.append(digits[Int(byte >> 4)])
            text.append(digits[Int(byte & 0xF)])
        }
        return String(decoding: text, as: UTF8.self)
    }

    private static func nibble(_ digit: UInt8) -> UInt8? {
        switch digit {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): digit - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): digit - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): digit - UInt8(ascii: "A") + 10
        default: nil
        }
    }
}
