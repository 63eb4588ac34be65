/// An `IndexSnapshot` over a published manifest and the segments it names.
///
/// Opening maps each file to the (segment, ordinal) holding its blob and links, per segment,
/// every ordinal to the files with that blob (one blob may sit at several paths). A query is
/// then answered segment by segment on posting lists (intersections for `and`, unions for
/// `or`), mapped back to file indices through those links; nothing is parsed per query.
public final class IndexedSnapshot: IndexSnapshot, @unchecked Sendable {
    public let repository: String
    public let commit: String
    public let files: [SnapshotFile]
    /// The manifest the snapshot was opened from.
    public let manifest: IndexManifest
    let segments: [Segment]
    /// Per file: index into `segments`, or -1 (a blob no segment holds; only for non-text files).
    let fileSegment: [Int32]
    let fileOrdinal: [Int32]
    /// Per segment, per ordinal: the first text file with that blob, or -1; `next` chains the others.
    let heads: [[Int32]]
    let next: [Int32]
    let tooLarge: [Int]
    let searchable: [Int]
    let readBlob: @Sendable (String) async throws -> [UInt8]

    /// - Parameters:
    ///   - readBlob: reads a blob through git (for `.tooLarge` and `.binary` files).
    init(manifest: IndexManifest, segments: [Segment], readBlob: @escaping @Sendable (String) async throws -> [UInt8]) throws {
        self.manifest = manifest
        repository = manifest.repository
        commit = manifest.commit
        self.segments = segments
        self.readBlob = readBlob
        files = manifest.files.map { SnapshotFile(path: $0.path, blob: $0.blob, size: $0.size, kind: $0.kind) }
        var fileSegment = [Int32](repeating: -1, count: files.count)
        var fileOrdinal = [Int32](repeating: -1, count: files.count)
        var heads = segments.map { [Int32](repeating: -1, count: $0.blobCount) }
        var next = [Int32](repeating: -1, count: files.count)
        var tooLarge: [Int] = []
        var searchable: [Int] = []
        var ordinals: [String: (Int, Int)] = [:]
        for index in files.indices.reversed() {
            let file = files[index]
            if file.kind != .binary { searchable.append(index) }
            if file.kind == .tooLarge { tooLarge.append(index) }
            guard file.kind == .text else { continue }
            let place = ordinals[file.blob] ?? segments.indices.lazy.compactMap { s in segments[s].ordinal(of: file.blob).map { (s, $0) } }.first
            guard let (s, ordinal) = place, segments[s].blob(ordinal).kind == .text else {
                throw IndexError(.damaged, "\(manifest.repository): blob \(file.blob) of \(String(decoding: file.path, as: UTF8.self)) is in none of its segments")
            }
            ordinals[file.blob] = (s, ordinal)
            fileSegment[index] = Int32(s)
            fileOrdinal[index] = Int32(ordinal)
            next[index] = heads[s][ordinal]
            heads[s][ordinal] = Int32(index)
        }
        self.fileSegment = fileSegment
        self.fileOrdinal = fileOrdinal
        self.heads = heads
        self.next = next
        self.tooLarge = tooLarge.reversed()
        self.searchable = searchable.reversed()
    }

    public func candidates(_ query: TrigramQuery) -> [Int] {
        if case .all = query { return searchable }
        var marks = [UInt64](repeating: 0, count: (files.count + 63) / 64)
        for index in tooLarge { marks[index >> 6] |= 1 << UInt64(index & 63) }
        for (s, segment) in segments.enumerated() {
            let heads = self.heads[s]
            switch Self.evaluate(query, segment) {
            case .all:
                for ordinal in heads.indices where heads[ordinal] >= 0 { mark(heads[ordinal], &marks) }
            case let .some(ordinals):
                for ordinal in ordinals where heads[Int(ordinal)] >= 0 { mark(heads[Int(ordinal)], &marks) }
            }
        }
        var result: [Int] = []
        for (word, bits) in marks.enumerated() where bits != 0 {
            var bits = bits
            while bits != 0 {
                result.append(word << 6 | bits.trailingZeroBitCount)
                bits &= bits - 1
            }
        }
        return result
    }

    @inline(__always)
    private func mark(_ first: Int32, _ marks: inout [UInt64]) {
        var file = first
        while file >= 0 {
            marks[Int(file) >> 6] |= 1 << UInt64(file & 63)
            file = next[Int(file)]
        }
    }

    enum Ordinals {
        case all
        case some([UInt32])
    }

    /// The ordinals of `segment` whose blobs may match `query`.
    static func evaluate(_ query: TrigramQuery, _ segment: Segment) -> Ordinals {
        switch query {
        case .all: return .all
        case .none: return .some([])
        case let .trigram(trigram): return .some(segment.postings(trigram))
        case let .and(parts):
            var result: [UInt32]?
            for part in parts {
                guard case let .some(list) = evaluate(part, segment) else { continue }
                result = result.map { SortedLists.intersect($0, list) } ?? list
                if result?.isEmpty == true { return .some([]) }
            }
            return result.map { .some($0) } ?? .all
        case let .or(parts):
            var result: [UInt32] = []
            for part in parts {
                guard case let .some(list) = evaluate(part, segment) else { return .all }
                result = SortedLists.union(result, list)
            }
            return .some(result)
        }
    }

    public func content(_ index: Int) async throws -> [UInt8] {
        guard files.indices.contains(index) else {
            throw RepositoryError(.invalidArgument, "file index \(index) is outside 0..<\(files.count)")
        }
        let s = Int(fileSegment[index])
        if s >= 0 { return Array(segments[s].content(Int(fileOrdinal[index]))) }
        return try await readBlob(files[index].blob)
    }
}
