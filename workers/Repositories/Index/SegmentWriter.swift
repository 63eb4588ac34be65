import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Writes one `Segment`: blobs are added in ascending id order (their ordinals), text contents
/// go to the file as they come, and `finish` sorts the (trigram, ordinal) pairs, writes the
/// tables, syncs the file and renames it into place. Until then the file has a temporary name
/// no reader opens; `abandon` (or a crash) leaves only that temporary file behind.
final class SegmentWriter {
    private struct Entry {
        var id: [UInt8]
        var kind: Segment.BlobKind
        var size: Int
        var lines: Int
        var offset: Int
    }

    /// Bytes git inspects for a NUL to call a file binary.
    static let binaryProbe = 8_000
    /// Prefix of files being written.
    static let temporaryPrefix = ".tmp-"

    let directory: String
    let name: String
    private let temporaryPath: String
    private var fd: Int32
    private var entries: [Entry] = []
    private var pairs: [UInt64] = []
    private var written = Segment.headerSize
    private var buffer: [UInt8] = []
    private var trigrams = DistinctTrigrams()

    /// Opens a new temporary segment file in `directory`.
    init(directory: String) throws {
        self.directory = directory
        name = "seg-\(Int(Date().timeIntervalSince1970))-\(UUID().uuidString.lowercased()).seg"
        temporaryPath = directory + "/" + Self.temporaryPrefix + name
        fd = open(temporaryPath, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw IndexError(.fileSystem, "cannot create \(temporaryPath): \(String(cString: strerror(errno)))") }
        buffer = [UInt8](repeating: 0, count: Segment.headerSize)
        buffer.reserveCapacity(1 << 20)
    }

    deinit { abandon() }

    /// Blobs added so far.
    var count: Int { entries.count }

    /// What a blob is, as `git grep -I` and the size limit decide.
    static func classify(_ bytes: UnsafeRawBufferPointer, limit: Int) -> Segment.BlobKind {
        let probe = min(bytes.count, binaryProbe)
        if probe > 0, memchr(bytes.baseAddress!, 0, probe) != nil { return .binary }
        return bytes.count > limit ? .tooLarge : .text
    }

    /// Lines as `wc -l` counts them, plus a last line without a newline.
    static func lines(_ bytes: UnsafeRawBufferPointer) -> Int {
        var count = 0
        for byte in bytes where byte == 10 { count += 1 }
        if let last = bytes.last, last != 10 { count += 1 }
        return count
    }

    /// Adds a blob: its content and trigrams when `kind` is `.text`, else only its entry.
    /// - Throws: when ids do not come in ascending order, or the file cannot be written.
    func add(id: String, kind: Segment.BlobKind, size: Int, lines: Int, content: UnsafeRawBufferPointer) throws {
        guard let binary = BlobID.binary(id) else { throw IndexError(.inconsistent, "\(id) is not a blob id") }
        if let previous = entries.last {
            guard binary.count == previous.id.count, previous.id.lexicographicallyPrecedes(binary) else {
                throw IndexError(.inconsistent, "segment blobs must come in ascending id order (\(id))")
            }
        }
        var entry = Entry(id: binary, kind: kind, size: size, lines: lines, offset: 0)
        if kind == .text {
            entry.offset = written
            entry.size = content.count
            try append(content)
            addTrigrams(content, ordinal: UInt32(entries.count))
        }
        entries.append(entry)
    }

    private func addTrigrams(_ bytes: UnsafeRawBufferPointer, ordinal: UInt32) {
        trigrams.forEach(in: bytes) { pairs.append(UInt64($0) << 32 | UInt64(ordinal)) }
    }

    /// Writes the tables and header, syncs, and renames the file to `name`.
    /// - Returns: the segment's file name.
    func finish() throws -> String {
        let idLength = entries.first?.id.count ?? 20
        let blobTable = written
        for entry in entries {
            buffer += entry.id
            buffer.append(entry.kind.rawValue)
            appendInteger(UInt64(entry.size))
            appendInteger(UInt64(entry.lines))
            appendInteger(UInt64(entry.offset))
            try flushIfFull()
        }
        let sorted = Self.sortByTrigram(pairs)
        pairs = []
        // Trigram table, then postings: the table needs each list's offset and count first.
        var table: [(trigram: UInt32, count: UInt32, offset: UInt64)] = []
        var postings: [UInt8] = []
        var index = 0
        while index < sorted.count {
            let trigram = UInt32(sorted[index] >> 32)
            let start = index
            let offset = UInt64(postings.count)
            var previous: Int64 = -1
            while index < sorted.count && UInt32(sorted[index] >> 32) == trigram {
                let ordinal = Int64(sorted[index] & 0xFFFF_FFFF)
                var delta = UInt64(ordinal - previous)
                previous = ordinal
                while delta >= 0x80 {
                    postings.append(UInt8(delta & 0x7F) | 0x80)
                    delta >>= 7
                }
                postings.append(UInt8(delta))
                index += 1
            }
            table.append((trigram, UInt32(index - start), offset))
        }
        let trigramTable = blobTable + entries.count * (idLength + 25)
        for entry in table {
            appendInteger(UInt32(entry.trigram))
            appendInteger(entry.count)
            appendInteger(entry.offset)
            try flushIfFull()
        }
        let postingsStart = trigramTable + table.count * Segment.trigramEntrySize
        try flush()
        try postings.withUnsafeBytes { try append($0) }
        try flush()
        var header = Segment.magic
        for value in [UInt32(idLength), UInt32(entries.count), UInt32(table.count), 0] { header += Self.bytes(value) }
        for value in [blobTable, trigramTable, postingsStart, postingsStart + postings.count, 0] { header += Self.bytes(UInt64(value)) }
        guard header.withUnsafeBytes({ pwrite(fd, $0.baseAddress, $0.count, 0) }) == header.count else {
            throw IndexError(.fileSystem, "cannot write the header of \(name): \(String(cString: strerror(errno)))")
        }
        guard fsync(fd) == 0 else { throw IndexError(.fileSystem, "cannot sync \(name): \(String(cString: strerror(errno)))") }
        close(fd)
        fd = -1
        guard rename(temporaryPath, directory + "/" + name) == 0 else {
            throw IndexError(.fileSystem, "cannot rename \(name) into place: \(String(cString: strerror(errno)))")
        }
        IndexFiles.syncDirectory(directory)
        return name
    }

    /// Removes the temporary file (nothing once `finish` has renamed it).
    func abandon() {
        guard fd >= 0 else { return }
        close(fd)
        fd = -1
        unlink(temporaryPath)
    }

    /// A stable sort of packed (trigram << 32 | ordinal) pairs by trigram (24 bits, two passes
    /// of 12): pairs arrive in ordinal order, so each trigram's ordinals stay ascending.
    static func sortByTrigram(_ input: [UInt64]) -> [UInt64] {
        var source = input
        var target = [UInt64](repeating: 0, count: input.count)
        for shift in [UInt64(32), 44] {
            var counts = [Int](repeating: 0, count: 4097)
            source.withUnsafeBufferPointer { source in
                for pair in source { counts[Int((pair >> shift) & 0xFFF) + 1] += 1 }
            }
            for bucket in 1...4096 { counts[bucket] += counts[bucket - 1] }
            source.withUnsafeBufferPointer { source in
                target.withUnsafeMutableBufferPointer { target in
                    for pair in source {
                        let bucket = Int((pair >> shift) & 0xFFF)
                        target[counts[bucket]] = pair
                        counts[bucket] += 1
                    }
                }
            }
            swap(&source, &target)
        }
        return source
    }

    private func append(_ bytes: UnsafeRawBufferPointer) throws {
        written += bytes.count
        if buffer.count + bytes.count > 1 << 20 {
            try flush()
            if bytes.count > 1 << 20 {
                try writeAll(bytes)
                return
            }
        }
        buffer.append(contentsOf: bytes)
    }

    private func appendInteger<T: FixedWidthInteger>(_ value: T) {
        buffer += Self.bytes(value)
        written += MemoryLayout<T>.size
    }

    static func bytes<T: FixedWidthInteger>(_ value: T) -> [UInt8] {
        withUnsafeBytes(of: value.littleEndian) { Array($0) }
    }

    private func flushIfFull() throws {
        if buffer.count >= 1 << 20 { try flush() }
    }

    private func flush() throws {
        try buffer.withUnsafeBytes { try writeAll($0) }
        buffer.removeAll(keepingCapacity: true)
    }

    private func writeAll(_ bytes: UnsafeRawBufferPointer) throws {
        var offset = 0
        while offset < bytes.count {
            let count = write(fd, bytes.baseAddress! + offset, bytes.count - offset)
            if count < 0 && errno == EINTR { continue }
            guard count > 0 else { throw IndexError(.fileSystem, "cannot write \(name): \(String(cString: strerror(errno)))") }
            offset += count
        }
    }
}
