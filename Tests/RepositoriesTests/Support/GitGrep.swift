import Foundation
import Repositories

/// What `git grep -n -I` prints for a search, parsed from its `-z` output: the reference
/// `repos.search` is checked against, run with the environment the worker gives git (`LC_ALL=C`).
enum GitGrep {
    /// One matching line.
    struct Line: Hashable, CustomStringConvertible {
        var path: [UInt8]
        var line: Int
        var text: [UInt8]

        var description: String { "\(String(decoding: path, as: UTF8.self)):\(line):\(String(decoding: text.map { $0 == 0 ? UInt8(ascii: "@") : $0 }, as: UTF8.self))" }
    }

    /// One match `git grep -o --column` prints: the line, the column git reports, the matched bytes.
    struct Piece: Hashable {
        var path: [UInt8]
        var line: Int
        var column: Int
        var text: [UInt8]
    }

    /// The flags for a query: `-F` or `-E`, `-i`, the pattern after `-e`.
    static func flags(_ query: String, regex: Bool, ignoreCase: Bool) -> [String] {
        [regex ? "-E" : "-F"] + (ignoreCase ? ["-i"] : []) + ["-e", query]
    }

    static func lines(_ query: String, regex: Bool = false, ignoreCase: Bool = false, path: String? = nil,
                      commit: String, in directory: String) async throws -> [Line] {
        let output = try await GitCommand.run(["grep", "-n", "-I", "-z"] + flags(query, regex: regex, ignoreCase: ignoreCase)
                                              + [commit, "--"] + (path.map { [$0] } ?? []), in: directory, accepting: [0, 1])
        return try records(output, commit: commit, fields: 2).map { Line(path: $0.path, line: $0.numbers[0], text: $0.text) }
    }

    static func pieces(_ query: String, regex: Bool = false, ignoreCase: Bool = false, path: String? = nil,
                       commit: String, in directory: String) async throws -> [Piece] {
        let output = try await GitCommand.run(["grep", "-n", "-I", "-z", "-o", "--column"] + flags(query, regex: regex, ignoreCase: ignoreCase)
                                              + [commit, "--"] + (path.map { [$0] } ?? []), in: directory, accepting: [0, 1])
        return try records(output, commit: commit, fields: 3).map { Piece(path: $0.path, line: $0.numbers[0], column: $0.numbers[1], text: $0.text) }
    }

    struct Unparsable: Error, CustomStringConvertible {
        let description: String
    }

    /// `COMMIT:path\0n\0[n\0]text\n` records.
    private static func records(_ output: [UInt8], commit: String, fields: Int) throws -> [(path: [UInt8], numbers: [Int], text: [UInt8])] {
        var records: [(path: [UInt8], numbers: [Int], text: [UInt8])] = []
        let prefix = Array("\(commit):".utf8)
        var index = 0
        while index < output.count {
            guard output[index...].starts(with: prefix), let nul = output[index...].firstIndex(of: 0) else {
                throw Unparsable(description: "unexpected git grep output at byte \(index)")
            }
            let path = Array(output[(index + prefix.count)..<nul])
            var cursor = nul + 1
            var numbers: [Int] = []
            for _ in 1...fields - 1 {
                guard let end = output[cursor...].firstIndex(of: 0), let number = Int(String(decoding: output[cursor..<end], as: UTF8.self)) else {
                    throw Unparsable(description: "no number after \(String(decoding: path, as: UTF8.self))")
                }
                numbers.append(number)
                cursor = end + 1
            }
            let end = output[cursor...].firstIndex(of: UInt8(ascii: "\n")) ?? output.count
            records.append((path, numbers, Array(output[cursor..<end])))
            index = end + 1
        }
        return records
    }
}

extension SearchResult {
    /// The matches as git grep's lines.
    var gitLines: [GitGrep.Line] { matches.map { GitGrep.Line(path: $0.path, line: $0.line, text: $0.text) } }

    /// The pieces `git grep -o --column` would print for these matches: each range's bytes, the
    /// first at its 1-based column, every later one at the column git reports (the first
    /// match's column plus the previous match's end: git adds offsets from where it resumed).
    var gitPieces: [GitGrep.Piece] {
        matches.flatMap { match -> [GitGrep.Piece] in
            guard let first = match.ranges.first else { return [] }
            return match.ranges.enumerated().map { index, range in
                let column = index == 0 ? first[0] + 1 : first[0] + 1 + match.ranges[index - 1][1]
                return GitGrep.Piece(path: match.path, line: match.line, column: column, text: Array(match.text[range[0]..<range[1]]))
            }
        }
    }
}
