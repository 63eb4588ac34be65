import Conveyor
import Foundation
import Logging

/// How `repos.index` indexes.
public struct IndexOptions: Sendable {
    /// Text files over this many bytes are `.tooLarge`: listed, not indexed (zoekt's default is 2 MiB; 1 MiB here).
    public var maxFileSize: Int
    /// A manifest naming more segments than this has them merged into one.
    public var maxSegments: Int
    /// Bytes of blobs asked of git at once.
    public var maxBytesInFlight: Int

    /// Values below their floor are raised to it: a file limit of at least 1 byte, at least 1
    /// segment, at least 1 MiB in flight.
    public init(maxFileSize: Int = 1 << 20, maxSegments: Int = 8, maxBytesInFlight: Int = 32 << 20) {
        self.maxFileSize = max(1, maxFileSize)
        self.maxSegments = max(1, maxSegments)
        self.maxBytesInFlight = max(1 << 20, maxBytesInFlight)
    }
}

/// Indexes one commit of one repository: lists its tree, reads from git only the blobs no
/// segment holds yet (by blob id, so pushes and forks cost only what changed), writes them as
/// one new segment, merges segments when there are too many, and publishes the manifest.
///
/// The caller holds the repository's lock (`repos.index` does); runs for different
/// repositories may share the store at once.
public final class IndexService: Sendable {
    public let index: SearchIndex
    public let options: IndexOptions
    /// Called with the new segment's name once it is in place, before the manifest is published
    /// (tests throw from it to play a crash between the two).
    let beforePublish: (@Sendable (String) throws -> Void)?

    public convenience init(index: SearchIndex, options: IndexOptions = IndexOptions()) {
        self.init(index: index, options: options, beforePublish: nil)
    }

    init(index: SearchIndex, options: IndexOptions, beforePublish: (@Sendable (String) throws -> Void)?) {
        self.index = index
        self.options = options
        self.beforePublish = beforePublish
    }

    var store: IndexStore { index.store }

    /// Indexes `ref` of `repository` and publishes it.
    /// - Parameters:
    ///   - logger: where a damaged manifest (indexed again from scratch) and a failed clean-up are reported.
    ///   - progress: told (files done, files in the commit) as the run goes; a file is done once its blob is in a segment.
    /// - Throws: `RepositoryError` (permanent for bad names, refs and repositories), `IndexError`.
    public func index(repository name: String, ref: String = "HEAD", logger: Logger? = nil,
                      progress: @Sendable (Int, Int) async throws -> Void = { _, _ in }) async throws -> IndexResult {
        let started = ContinuousClock.now
        let repository = try index.repositories.repository(name)
        let (commit, tree) = try await repository.resolveCommit(ref, role: "ref")
        let previous: IndexManifest?
        do {
            previous = try store.manifest(for: name)
        } catch {
            logger?.warning("the published index does not read; indexing from scratch", metadata: ["repository": "\(name)", "error": "\(error)"])
            previous = nil
        }
        if let previous, previous.commit == commit,
           previous.segments.allSatisfy({ (try? store.segment($0)) != nil }) {
            var manifest = previous
            if previous.ref != ref {
                manifest.ref = ref
                try store.publish(manifest)
            }
            return IndexResult(manifest: manifest, newBlobs: 0, reusedBlobs: Set(previous.files.map(\.blob)).count,
                               seconds: Self.seconds(since: started))
        }
        // Regular files and executables (and the 100664 of very old trees), as git grep reads them;
        // symlinks (120000) and submodules (160000) are left out.
        let entries = try await repository.objects.listTree(tree).filter { $0.mode.hasPrefix("100") }
        let blobs = Set(entries.map(\.id))
        var found = store.locate(blobs, preferred: previous?.segments ?? [])
        var pinned = Set(found.values.map(\.segment.name))
        store.pin(Array(pinned))
        defer { store.unpin(Array(pinned)) }
        let missing = blobs.subtracting(found.keys).sorted()
        var filesPerBlob: [String: Int] = [:]
        for entry in entries { filesPerBlob[entry.id, default: 0] += 1 }
        let filesDone = found.keys.reduce(0) { $0 + (filesPerBlob[$1] ?? 0) }
        try await progress(filesDone, entries.count)
        var created: String?
        if !missing.isEmpty {
            let name = try await write(missing, from: repository, done: filesDone, total: entries.count,
                                       filesPerBlob: filesPerBlob, progress: progress)
            store.pin([name])
            pinned.insert(name)
            created = name
            let segment = try store.segment(name)
            for blob in missing {
                guard let ordinal = segment.ordinal(of: blob) else { throw IndexError(.inconsistent, "blob \(blob) is missing from the new segment") }
                found[blob] = (segment, ordinal)
            }
            try beforePublish?(name)
        }
        var used = Set(found.values.map(\.segment.name))
        var segments = ([created].compactMap { $0 } + (previous?.segments ?? []) + used.sorted()).filter { used.remove($0) != nil }
        if segments.count > options.maxSegments {
            let merged = try merge(found, blobs: blobs.sorted())
            store.pin([merged])
            pinned.insert(merged)
            segments = [merged]
        }
        var files: [IndexManifest.File] = []
        files.reserveCapacity(entries.count)
        var stats = IndexStats()
        for entry in entries {
            guard let place = found[entry.id] else { throw IndexError(.inconsistent, "blob \(entry.id) was neither found nor read") }
            let blob = place.segment.blob(place.ordinal)
            let kind: SnapshotFile.Kind = blob.kind == .text ? .text : blob.kind == .binary ? .binary : .tooLarge
            files.append(IndexManifest.File(path: entry.path, blob: entry.id, size: blob.size, kind: kind))
            stats.add(path: entry.path, blob: blob)
        }
        let manifest = IndexManifest(repository: name, ref: ref, commit: commit, tree: tree, segments: segments, files: files, stats: stats)
        try store.publish(manifest)
        store.unpin(Array(pinned))
        pinned = []
        do {
            try store.collectGarbage()
        } catch {
            logger?.warning("index clean-up failed; the next run tries again", metadata: ["error": "\(error)"])
        }
        try await progress(entries.count, entries.count)
        return IndexResult(manifest: manifest, newBlobs: missing.count, reusedBlobs: blobs.count - missing.count,
                           seconds: Self.seconds(since: started))
    }

    /// Reads `ids` (ascending) from git into a new segment, reporting files done every 128 blobs.
    /// - Returns: the segment's name.
    private func write(_ ids: [String], from repository: GitRepository, done: Int, total: Int, filesPerBlob: [String: Int],
                       progress: @Sendable (Int, Int) async throws -> Void) async throws -> String {
        let writer = try SegmentWriter(directory: store.segmentsDirectory)
        defer { writer.abandon() }
        let limit = options.maxFileSize
        var done = done
        var read = 0
        try await repository.objects.read(ids, maxBytesInFlight: options.maxBytesInFlight) { info, bytes in
            guard info.type == "blob" else {
                throw RepositoryError(.corruptRepository, "\(info.id) is a \(info.type) where the tree lists a blob")
            }
            try bytes.withUnsafeBytes { raw in
                let kind = SegmentWriter.classify(raw, limit: limit)
                let lines = kind == .binary ? 0 : SegmentWriter.lines(raw)
                try writer.add(id: info.id, kind: kind, size: raw.count, lines: lines, content: raw)
            }
            done += filesPerBlob[info.id] ?? 1
            read += 1
            if read % 128 == 0 { try await progress(done, total) }
        }
        return try writer.finish()
    }

    /// Writes one segment holding exactly `blobs` (ascending), copied from where they are.
    private func merge(_ found: [String: (segment: Segment, ordinal: Int)], blobs: [String]) throws -> String {
        let writer = try SegmentWriter(directory: store.segmentsDirectory)
        defer { writer.abandon() }
        for id in blobs {
            guard let (segment, ordinal) = found[id] else { throw IndexError(.inconsistent, "blob \(id) is in no segment to merge") }
            let blob = segment.blob(ordinal)
            try writer.add(id: id, kind: blob.kind, size: blob.size, lines: blob.lines, content: segment.content(ordinal))
        }
        return try writer.finish()
    }

    static func seconds(since start: ContinuousClock.Instant) -> Double {
        let elapsed = ContinuousClock.now - start
        return Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
    }
}

extension IndexStats {
    mutating func add(path: [UInt8], blob: Segment.Blob) {
        files += 1
        bytes += blob.size
        switch blob.kind {
        case .binary:
            binary += 1
            return
        case .tooLarge:
            tooLarge += 1
        case .text:
            break
        }
        let name = Languages.of(path)
        languages[name, default: Language()].files += 1
        languages[name, default: Language()].lines += blob.lines
        languages[name, default: Language()].bytes += blob.size
    }
}

/// What `repos.index` returns.
public struct IndexResult: Sendable {
    public var manifest: IndexManifest
    /// Blobs read from git by this run.
    public var newBlobs: Int
    /// Blobs of the commit some segment already held.
    public var reusedBlobs: Int
    public var seconds: Double

    /// `{repository, ref, commit, files, bytes, languages, skipped, new_blobs, reused_blobs, seconds}`,
    /// languages by name.
    public var json: JSON {
        let stats = manifest.stats
        var languages: JSONObject = [:]
        for (name, language) in stats.languages.sorted(by: { $0.key < $1.key }) {
            languages[name] = ["files": .int(Int64(language.files)), "lines": .int(Int64(language.lines)), "bytes": .int(Int64(language.bytes))]
        }
        return [
            "repository": .string(manifest.repository), "ref": .string(manifest.ref), "commit": .string(manifest.commit),
            "files": .int(Int64(stats.files)), "bytes": .int(Int64(stats.bytes)), "languages": .object(languages),
            "skipped": ["binary": .int(Int64(stats.binary)), "too_large": .int(Int64(stats.tooLarge))],
            "new_blobs": .int(Int64(newBlobs)), "reused_blobs": .int(Int64(reusedBlobs)), "seconds": .double(seconds),
        ]
    }
}
