import Conveyor
import Foundation

/// What `repos.search` answers.
public struct SearchResult: Sendable, Hashable {
    /// One matching line.
    public struct Match: Sendable, Hashable {
        /// Path from the repository root, bytes as git stores them.
        public var path: [UInt8]
        /// 1-based line number.
        public var line: Int
        /// The line without its newline (a CR before it stays).
        public var text: [UInt8]
        /// Byte offsets `[start, end)` in `text` of each match `git grep -o` lists for the line.
        public var ranges: [[Int]]
    }

    /// The commit searched (hex).
    public var commit: String
    /// Matching lines in path byte order, then line order.
    public var matches: [Match]
    /// Files with at least one line in `matches`.
    public var filesMatched: Int
    /// More lines matched than `limit`, or the deadline stopped the search first.
    public var truncated: Bool
    /// Milliseconds the search took, snapshot lookup included.
    public var tookMilliseconds: Int

    /// The task's result: `{commit, matches: [{path, line, text, ranges}], files_matched,
    /// truncated, took_ms}`. A path or line that is not valid UTF-8 travels as text with
    /// replacement characters plus its exact bytes in `path_base64` / `text_base64`; ranges are
    /// offsets in those exact bytes.
    public var json: JSON {
        .object([
            "commit": .string(commit),
            "matches": .array(matches.map(\.json)),
            "files_matched": .int(Int64(filesMatched)),
            "truncated": .bool(truncated),
            "took_ms": .int(Int64(tookMilliseconds)),
        ])
    }
}

extension SearchResult.Match {
    var json: JSON {
        var object: JSONObject = [
            "path": .string(String(decoding: path, as: UTF8.self)),
            "line": .int(Int64(line)),
            "text": .string(String(decoding: text, as: UTF8.self)),
            "ranges": .array(ranges.map { .array($0.map { .int(Int64($0)) }) }),
        ]
        if String(validating: path, as: UTF8.self) == nil { object["path_base64"] = .string(Data(path).base64EncodedString()) }
        if String(validating: text, as: UTF8.self) == nil { object["text_base64"] = .string(Data(text).base64EncodedString()) }
        return .object(object)
    }
}

