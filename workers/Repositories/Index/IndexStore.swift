import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// The index directory on local disk: `segments/` (immutable segment files, shared by every
/// repository indexed here, so a blob is read from git once whatever repository holds it) and
/// `manifests/` (one per repository, naming the segments it uses).
///
/// Segments and manifests are only ever added by rename, so readers never see half a file.
/// Segments no manifest names are deleted by `collectGarbage`, under a lock file that
/// `publish` takes too, and never while an index run in this process holds them (`pin`); a run
/// in another process that chose a segment that is then deleted finds it gone when it publishes,
/// and fails (to be retried) rather than publish a manifest naming a missing file.
public final class IndexStore: Sendable {
    /// The index directory.
    public let directory: String
    let segmentsDirectory: String
    let manifestsDirectory: String
    private let opened = Mutex<[String: Segment]>([:])
    private let pins = Mutex<[String: Int]>([:])
    /// Temporary files older than this many seconds are debris of a killed run.
    static let temporaryGrace: Double = 3_600

    /// Uses (and creates if missing) `directory`.
    public init(directory: String) throws {
        let resolved = URL(fileURLWithPath: directory).standardizedFileURL.path
        self.directory = resolved
        segmentsDirectory = resolved + "/segments"
        manifestsDirectory = resolved + "/manifests"
        do {
            for path in [segmentsDirectory, manifestsDirectory] {
                try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
            }
        } catch {
            throw RepositoryError(.invalidArgument, "index directory \(directory) cannot be used: \(error.localizedDescription)")
        }
    }

    /// The published manifest of `repository`, if it was indexed.
    public func manifest(for repository: String) throws -> IndexManifest? {
        let path = manifestPath(repository)
        guard let data = FileManager.default.contents(atPath: path) else { return nil }
        do {
            let manifest = try JSONDecoder().decode(IndexManifest.self, from: data)
            guard manifest.version == IndexManifest.currentVersion else { return nil }
            return manifest
        } catch {
            throw IndexError(.damaged, "the manifest of \(repository) does not parse: \(error)")
        }
    }

    func manifestPath(_ repository: String) -> String {
        manifestsDirectory + "/" + IndexFiles.fileName(for: repository)
    }

    /// The segment named `name`, mapped once and kept open.
    func segment(_ name: String) throws -> Segment {
        if let segment = opened.withLock({ $0[name] }) { return segment }
        guard !name.contains("/"), name.hasPrefix("seg-") else { throw IndexError(.damaged, "\(name) is not a segment name") }
        let segment = try Segment(path: segmentsDirectory + "/" + name, name: name)
        return opened.withLock { open in
            if let existing = open[name] { return existing }
            open[name] = segment
            return segment
        }
    }

    /// Names of the segment files present.
    func segmentNames() -> [String] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: segmentsDirectory)) ?? []
        return names.filter { $0.hasPrefix("seg-") && $0.hasSuffix(".seg") }.sorted()
    }

    /// Where each blob already is: the segments in `preferred` first, then every other one.
    /// - Returns: blob id → (segment, ordinal), for the blobs found.
    func locate(_ blobs: Set<String>, preferred: [String]) -> [String: (segment: Segment, ordinal: Int)] {
        var found: [String: (segment: Segment, ordinal: Int)] = [:]
        // Ids converted once; each segment is then asked only for what is still missing.
        var remaining = blobs.compactMap { id in BlobID.binary(id).map { (id, $0) } }
        var order = preferred
        order += segmentNames().filter { !preferred.contains($0) }.reversed()
        for name in order where !remaining.isEmpty {
            guard let segment = try? segment(name) else { continue }
            remaining.removeAll { id, binary in
                guard binary.count == segment.idLength,
                      let ordinal = binary.withUnsafeBytes({ segment.ordinal(ofBinary: $0) }) else { return false }
                found[id] = (segment, ordinal)
                return true
            }
        }
        return found
    }

    /// Keeps `collectGarbage` in this process off these segments until `unpin`.
    func pin(_ names: [String]) {
        pins.withLock { pins in for name in names { pins[name, default: 0] += 1 } }
    }

    func unpin(_ names: [String]) {
        pins.withLock { pins in
            for name in names {
                pins[name, default: 0] -= 1
                if pins[name, default: 0] <= 0 { pins[name] = nil }
            }
        }
    }

    /// Publishes `manifest` atomically, after checking every segment it names is still there.
    /// - Throws: `IndexError.Code.fileSystem` (retried) when a segment vanished meanwhile.
    func publish(_ manifest: IndexManifest) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let bytes = [UInt8](try encoder.encode(manifest))
        try withDirectoryLock {
            for name in manifest.segments where access(segmentsDirectory + "/" + name, F_OK) != 0 {
                throw IndexError(.fileSystem, "segment \(name) was removed while \(manifest.repository) was indexed; index again")
            }
            try IndexFiles.replace(manifestPath(manifest.repository), with: bytes)
        }
    }

    /// Deletes segments no manifest names and no run here holds, and temporary files left by
    /// killed runs. - Returns: the segments deleted.
    @discardableResult
    public func collectGarbage() throws -> [String] {
        try withDirectoryLock {
            var referenced = Set<String>()
            let manifests = (try? FileManager.default.contentsOfDirectory(atPath: manifestsDirectory)) ?? []
            for file in manifests where file.hasSuffix(".json") && !file.hasPrefix(SegmentWriter.temporaryPrefix) {
                guard let data = FileManager.default.contents(atPath: manifestsDirectory + "/" + file) else { continue }
                // A manifest that does not parse still names its segments: keep whatever it mentions.
                guard let manifest = try? JSONDecoder().decode(IndexManifest.self, from: data) else {
                    let text = String(decoding: data, as: UTF8.self)
                    for name in segmentNames() where text.contains(name) { referenced.insert(name) }
                    continue
                }
                referenced.formUnion(manifest.segments)
            }
            let pinned = pins.withLock { Set($0.keys) }
            var deleted: [String] = []
            for name in segmentNames() where !referenced.contains(name) && !pinned.contains(name) {
                if unlink(segmentsDirectory + "/" + name) == 0 { deleted.append(name) }
            }
            opened.withLock { open in for name in deleted { open[name] = nil } }
            let now = Date()
            for directory in [segmentsDirectory, manifestsDirectory] {
                for name in (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
                where name.hasPrefix(SegmentWriter.temporaryPrefix) {
                    let path = directory + "/" + name
                    let modified = (try? FileManager.default.attributesOfItem(atPath: path)[.modificationDate] as? Date) ?? now
                    if now.timeIntervalSince(modified) > Self.temporaryGrace { unlink(path) }
                }
            }
            if !deleted.isEmpty { IndexFiles.syncDirectory(segmentsDirectory) }
            return deleted
        }
    }

    /// Runs `body` holding an exclusive `flock` on `<directory>/lock` (every process using the
    /// directory takes it to publish or delete).
    private func withDirectoryLock<T>(_ body: () throws -> T) throws -> T {
        let fd = Glibc.open(directory + "/lock", O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw IndexError(.fileSystem, "cannot open \(directory)/lock: \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        while flock(fd, LOCK_EX) != 0 {
            guard errno == EINTR else { throw IndexError(.fileSystem, "cannot lock \(directory)/lock: \(String(cString: strerror(errno)))") }
        }
        defer { flock(fd, LOCK_UN) }
        return try body()
    }
}
