import Conveyor

/// One hunk of a file's patch.
public struct DiffHunk: Sendable, Hashable {
    public var oldStart: Int
    public var oldLines: Int
    public var newStart: Int
    public var newLines: Int
    /// The function context git printed after the second `@@` (may be empty).
    public var header: String
    /// The hunk's lines with their first character (` `, `+`, `-`, `\`), without newlines.
    public var lines: [String]

    var json: JSON {
        ["old_start": .int(Int64(oldStart)), "old_lines": .int(Int64(oldLines)), "new_start": .int(Int64(newStart)),
         "new_lines": .int(Int64(newLines)), "header": .string(header), "lines": .array(lines.map(JSON.string))]
    }
}

/// One changed file, as `diff-tree --raw` and its patch describe it.
public struct DiffFile: Sendable, Hashable {
    /// `added`, `deleted`, `modified`, `renamed`, `copied`, `type_changed`, `unmerged` or `unknown`.
    public var status: String
    /// The path after the change (before it, for a deleted file).
    public var path: String
    /// The path before the change; nil for an added file.
    public var oldPath: String?
    public var oldMode: String?
    public var mode: String?
    public var oldBlob: String?
    public var blob: String?
    /// Percent, for renames and copies.
    public var similarity: Int?
    public var binary: Bool
    /// Sizes in bytes of the old and new blob of a binary file (what `git diff --stat` shows as
    /// `Bin 10 -> 12 bytes`); nil for text files and for a side that does not exist.
    public var oldSize: Int?
    public var size: Int?
    public var additions: Int
    public var deletions: Int
    /// Over a limit: counts only, no hunks, and not in `patch`.
    public var collapsed: Bool
    public var hunks: [DiffHunk]

    var json: JSON {
        func optional(_ text: String?) -> JSON { text.map(JSON.string) ?? .null }
        return [
            "status": .string(status), "path": .string(path), "old_path": optional(oldPath),
            "old_mode": optional(oldMode), "mode": optional(mode), "old_blob": optional(oldBlob), "blob": optional(blob),
            "similarity": similarity.map { .int(Int64($0)) } ?? .null, "binary": .bool(binary),
            "old_size": oldSize.map { .int(Int64($0)) } ?? .null, "size": size.map { .int(Int64($0)) } ?? .null,
            "additions": .int(Int64(additions)), "deletions": .int(Int64(deletions)), "collapsed": .bool(collapsed),
            "hunks": .array(hunks.map(\.json)),
        ]
    }
}

/// One line of `diff-tree --raw`: `:<old mode> <new mode> <old id> <new id> <status>[score]\t<path>[\t<path>]`.
struct RawChange: Sendable {
    var oldMode: String
    var mode: String
    var oldBlob: String
    var blob: String
    var status: Character
    var score: Int?
    var paths: [[UInt8]]

    static func parse(_ line: ArraySlice<UInt8>) throws -> RawChange {
        let parts = line.split(separator: UInt8(ascii: "\t"), omittingEmptySubsequences: false)
        let fields = parts[0].dropFirst().split(separator: UInt8(ascii: " "))
        guard fields.count == 5, (2...3).contains(parts.count), let statusByte = fields[4].first else {
            throw RepositoryError(.gitFailed, "unexpected diff-tree line: \(String(decoding: line.prefix(200), as: UTF8.self))")
        }
        let text = { (bytes: ArraySlice<UInt8>) in String(decoding: bytes, as: UTF8.self) }
        let score = fields[4].count > 1 ? Int(text(fields[4].dropFirst())) : nil
        return RawChange(oldMode: text(fields[0]), mode: text(fields[1]), oldBlob: text(fields[2]), blob: text(fields[3]),
                         status: Character(UnicodeScalar(statusByte)), score: score, paths: parts.dropFirst().map(CQuoted.unquote))
    }

    func file(binary: Bool, additions: Int, deletions: Int, collapsed: Bool, hunks: [DiffHunk]) -> DiffFile {
        let names = paths.map { String(decoding: $0, as: UTF8.self) }
        let zero = { (id: String) in id.allSatisfy { $0 == "0" } }
        let status: String
        switch self.status {
        case "A": status = "added"
        case "D": status = "deleted"
        case "M": status = "modified"
        case "R": status = "renamed"
        case "C": status = "copied"
        case "T": status = "type_changed"
        case "U": status = "unmerged"
        default: status = "unknown"
        }
        let added = self.status == "A"
        let deleted = self.status == "D"
        return DiffFile(status: status, path: names.last ?? "", oldPath: added ? nil : names.first,
                        oldMode: added ? nil : oldMode, mode: deleted ? nil : mode,
                        oldBlob: added || zero(oldBlob) ? nil : oldBlob, blob: deleted || zero(blob) ? nil : blob,
                        similarity: (self.status == "R" || self.status == "C") ? score : nil,
                        binary: binary, oldSize: nil, size: nil, additions: additions, deletions: deletions, collapsed: collapsed, hunks: hunks)
    }
}
