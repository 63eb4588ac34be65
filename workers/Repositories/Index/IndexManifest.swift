import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// What one repository's index holds: the commit indexed, its files in path byte order, the
/// segments their blobs are in, and the statistics `repos.index` reported for it.
///
/// Stored as `manifests/<name>.json` in the index directory (the name percent-encoded), and
/// replaced atomically: written to a temporary file, synced, renamed over the old one. Paths
/// travel as UTF-8 text when they are valid UTF-8, as base64 otherwise.
public struct IndexManifest: Codable, Sendable, Equatable {
    public static let currentVersion = 1

    /// One file, compactly: path, blob, size, kind (`t`, `b`, `l`).
    public struct File: Codable, Sendable, Equatable {
        public var path: [UInt8]
        public var blob: String
        public var size: Int
        public var kind: SnapshotFile.Kind

        public init(path: [UInt8], blob: String, size: Int, kind: SnapshotFile.Kind) {
            self.path = path
            self.blob = blob
            self.size = size
            self.kind = kind
        }

        public init(from decoder: any Decoder) throws {
            var fields = try decoder.unkeyedContainer()
            let text = try fields.decode(String.self)
            blob = try fields.decode(String.self)
            size = try fields.decode(Int.self)
            switch try fields.decode(String.self) {
            case "t": kind = .text
            case "b": kind = .binary
            case "l": kind = .tooLarge
            case let other: throw IndexError(.damaged, "unknown file kind \(other) in a manifest")
            }
            let encoded = fields.isAtEnd ? false : try fields.decode(Bool.self)
            if encoded {
                guard let data = Data(base64Encoded: text) else { throw IndexError(.damaged, "a manifest path is not base64") }
                path = [UInt8](data)
            } else {
                path = Array(text.utf8)
            }
        }

        public func encode(to encoder: any Encoder) throws {
            var fields = encoder.unkeyedContainer()
            let text = String(validating: path, as: UTF8.self)
            try fields.encode(text ?? Data(path).base64EncodedString())
            try fields.encode(blob)
            try fields.encode(size)
            try fields.encode(kind == .text ? "t" : kind == .binary ? "b" : "l")
            if text == nil { try fields.encode(true) }
        }
    }

    public var version: Int
    public var repository: String
    public var ref: String
    public var commit: String
    public var tree: String
    /// Segment file names holding every listed blob.
    public var segments: [String]
    public var files: [File]
    /// The `repos.index` result members that describe the content (files, bytes, languages, skipped).
    public var stats: IndexStats

    public init(repository: String, ref: String, commit: String, tree: String, segments: [String], files: [File], stats: IndexStats) {
        version = Self.currentVersion
        self.repository = repository
        self.ref = ref
        self.commit = commit
        self.tree = tree
        self.segments = segments
        self.files = files
        self.stats = stats
    }
}

/// Counts over an indexed commit.
public struct IndexStats: Codable, Sendable, Equatable {
    public struct Language: Codable, Sendable, Equatable {
        public var files = 0
        public var lines = 0
        public var bytes = 0
    }
    public var files = 0
    public var bytes = 0
    public var binary = 0
    public var tooLarge = 0
    public var languages: [String: Language] = [:]
}

/// File-system steps the index relies on for crash safety.
enum IndexFiles {
    /// Makes a rename or unlink in `directory` durable.
    static func syncDirectory(_ directory: String) {
        let fd = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { return }
        fsync(fd)
        close(fd)
    }

    /// Writes `bytes` to `path` atomically: a temporary file beside it, synced, renamed over it.
    /// A crash at any point leaves either the old file or the new one.
    static func replace(_ path: String, with bytes: [UInt8]) throws {
        let directory = (path as NSString).deletingLastPathComponent
        let name = (path as NSString).lastPathComponent
        let temporary = directory + "/" + SegmentWriter.temporaryPrefix + UUID().uuidString.lowercased() + "-" + name
        let fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw IndexError(.fileSystem, "cannot create \(temporary): \(String(cString: strerror(errno)))") }
        var offset = 0
        let ok = bytes.withUnsafeBytes { raw -> Bool in
            while offset < raw.count {
                let count = write(fd, raw.baseAddress! + offset, raw.count - offset)
                if count < 0 && errno == EINTR { continue }
                guard count > 0 else { return false }
                offset += count
            }
            return fsync(fd) == 0
        }
        close(fd)
        guard ok, rename(temporary, path) == 0 else {
            let reason = String(cString: strerror(errno))
            unlink(temporary)
            throw IndexError(.fileSystem, "cannot write \(path): \(reason)")
        }
        syncDirectory(directory)
    }

    /// A repository name as one file name: bytes outside `[A-Za-z0-9._-]` percent-encoded.
    static func fileName(for repository: String) -> String {
        var name = ""
        for byte in repository.utf8 {
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
                 UInt8(ascii: "-"), UInt8(ascii: "_"):
                name.unicodeScalars.append(UnicodeScalar(byte))
            case UInt8(ascii: ".") where !name.isEmpty:
                name.unicodeScalars.append(UnicodeScalar(byte))
            default:
                name += String(format: "%%%02X", byte)
            }
        }
        return name + ".json"
    }
}
