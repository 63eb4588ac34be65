import Conveyor
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// `git diff --stat`, laid out from a `diffs.compute` result the way git lays it out (diff.c's
/// `show_stats`): names quoted as git quotes them and renames as `dir/{old => new}/file`; the
/// name and graph areas fitted into the terminal's width (names too long start with `...` and
/// the remainder from a `/`); bars scaled linearly, every non-zero side keeping a mark; binary
/// files as `Bin OLD -> NEW bytes`.
struct DiffStat {
    private struct Row {
        var name: [UInt8]
        var additions: Int
        var deletions: Int
        var binary: Bool
        var oldSize: Int
        var size: Int
    }

    private let rows: [Row]
    private let files: Int
    private let insertions: Int
    private let deletions: Int

    init(_ diff: JSON) {
        rows = (diff["files"]?.array ?? []).map { file in
            let path = Array((file["path"]?.string ?? "").utf8)
            let old = file["old_path"]?.string.map { Array($0.utf8) }
            let name = old.map { $0 == path ? Self.quoted($0) : Self.rename($0, path) } ?? Self.quoted(path)
            return Row(name: name, additions: Int(file["additions"]?.int ?? 0), deletions: Int(file["deletions"]?.int ?? 0),
                       binary: file["binary"] == true, oldSize: Int(file["old_size"]?.int ?? 0), size: Int(file["size"]?.int ?? 0))
        }
        files = Int(diff["stats"]?["files"]?.int ?? 0)
        insertions = Int(diff["stats"]?["additions"]?.int ?? 0)
        deletions = Int(diff["stats"]?["deletions"]?.int ?? 0)
    }

    /// Columns as git reads them: `COLUMNS`, else the terminal's width, else 80.
    static func terminalColumns() -> Int {
        if let text = ProcessInfo.processInfo.environment["COLUMNS"], let columns = Int(text), columns > 0 { return min(columns, 10_000) }
        var size = winsize()
        if ioctl(1, UInt(TIOCGWINSZ), &size) == 0, size.ws_col > 0 { return Int(size.ws_col) }
        return 80
    }

    /// The stat lines and the summary, for a terminal `width` columns wide.
    func render(width requested: Int) -> String {
        guard !rows.isEmpty else { return files == 0 ? "" : summary }
        var maxLength = 0, maxChange = 0, binWidth = 0, numberWidth = 0
        for row in rows {
            maxLength = max(maxLength, row.name.count)
            if row.binary {
                // "Bin XXX -> YYY bytes"; counts aligned with "Bin".
                binWidth = max(binWidth, 14 + Self.decimalWidth(row.size) + Self.decimalWidth(row.oldSize))
                numberWidth = 3
            } else {
                maxChange = max(maxChange, row.additions + row.deletions)
            }
        }
        numberWidth = max(numberWidth, Self.decimalWidth(maxChange))
        let width = max(requested, 16 + 6 + numberWidth)
        var graphWidth = maxChange + 4 > binWidth ? maxChange : binWidth - 4
        var nameWidth = maxLength
        if nameWidth + numberWidth + 6 + graphWidth > width {
            if graphWidth > width * 3 / 8 - numberWidth - 6 {
                graphWidth = max(6, width * 3 / 8 - numberWidth - 6)
            }
            if nameWidth > width - numberWidth - 6 - graphWidth {
                nameWidth = width - numberWidth - 6 - graphWidth
            } else {
                graphWidth = width - numberWidth - 6 - nameWidth
            }
        }

        var out: [UInt8] = []
        for row in rows {
            var name = row.name[...]
            var prefix = ""
            var room = nameWidth
            if nameWidth < name.count {
                prefix = "..."
                room = max(0, room - 3)
                name = name.suffix(room)
                if let slash = name.firstIndex(of: UInt8(ascii: "/")) { name = name[slash...] }
            }
            let padding = String(repeating: " ", count: max(0, room - name.count))
            out += Array(" \(prefix)".utf8) + name + Array("\(padding) | ".utf8)
            if row.binary {
                out += Array(Self.padded("Bin", numberWidth).utf8)
                if row.oldSize != 0 || row.size != 0 { out += Array(" \(row.oldSize) -> \(row.size) bytes".utf8) }
                out.append(UInt8(ascii: "\n"))
                continue
            }
            var plus = row.additions, minus = row.deletions
            if graphWidth <= maxChange {
                var total = Self.scale(plus + minus, graphWidth, maxChange)
                if total < 2 && plus > 0 && minus > 0 { total = 2 }
                if plus < minus {
                    plus = Self.scale(plus, graphWidth, maxChange)
                    minus = total - plus
                } else {
                    minus = Self.scale(minus, graphWidth, maxChange)
                    plus = total - minus
                }
            }
            let changes = row.additions + row.deletions
            out += Array((Self.padded(String(changes), numberWidth) + (changes > 0 ? " " : "")
                + String(repeating: "+", count: plus) + String(repeating: "-", count: minus) + "\n").utf8)
        }
        return String(decoding: out, as: UTF8.self) + summary
    }

    private var summary: String {
        var line = " \(files) file\(files == 1 ? "" : "s") changed"
        if insertions > 0 || deletions == 0 { line += ", \(insertions) insertion\(insertions == 1 ? "" : "s")(+)" }
        if deletions > 0 || insertions == 0 { line += ", \(deletions) deletion\(deletions == 1 ? "" : "s")(-)" }
        return line + "\n"
    }

    /// git's `scale_linear`: a non-zero count keeps at least one mark.
    private static func scale(_ count: Int, _ width: Int, _ maxChange: Int) -> Int {
        count == 0 ? 0 : 1 + count * (width - 1) / maxChange
    }

    private static func decimalWidth(_ value: Int) -> Int { String(value).count }

    private static func padded(_ text: String, _ width: Int) -> String {
        String(repeating: " ", count: max(0, width - text.count)) + text
    }

    /// The path as git prints it with `core.quotePath` on: in double quotes with C escapes when
    /// it holds a control character, a quote, a backslash or a byte outside ASCII.
    static func quoted(_ path: [UInt8]) -> [UInt8] {
        guard path.contains(where: { $0 < 0x20 || $0 == 0x22 || $0 == 0x5C || $0 >= 0x7F }) else { return path }
        var out: [UInt8] = [0x22]
        for byte in path {
            switch byte {
            case 0x07: out += Array("\\a".utf8)
            case 0x08: out += Array("\\b".utf8)
            case 0x09: out += Array("\\t".utf8)
            case 0x0A: out += Array("\\n".utf8)
            case 0x0B: out += Array("\\v".utf8)
            case 0x0C: out += Array("\\f".utf8)
            case 0x0D: out += Array("\\r".utf8)
            case 0x22: out += Array("\\\"".utf8)
            case 0x5C: out += Array("\\\\".utf8)
            case ..<0x20, 0x7F...: out += Array("\\\(String(byte, radix: 8).leftPadded(to: 3))".utf8)
            default: out.append(byte)
            }
        }
        out.append(0x22)
        return out
    }

    /// git's `pprint_rename`: the common directory prefix and suffix once, the differing middle
    /// as `{old => new}`; both whole and quoted when either needs quoting.
    static func rename(_ old: [UInt8], _ new: [UInt8]) -> [UInt8] {
        let slash = UInt8(ascii: "/")
        if quoted(old) != old || quoted(new) != new { return quoted(old) + Array(" => ".utf8) + quoted(new) }
        var prefix = 0
        var index = 0
        while index < old.count && index < new.count && old[index] == new[index] {
            if old[index] == slash { prefix = index + 1 }
            index += 1
        }
        // Walks back from the ends; with a common prefix, one step into it to see its slash.
        var suffix = 0
        var a = old.count - 1, b = new.count - 1
        let floor = prefix - (prefix > 0 ? 1 : 0)
        while a >= floor && b >= floor && a >= 0 && b >= 0 && old[a] == new[b] {
            if old[a] == slash { suffix = old.count - a }
            a -= 1
            b -= 1
        }
        let oldMiddle = max(0, old.count - prefix - suffix)
        let newMiddle = max(0, new.count - prefix - suffix)
        var out: [UInt8] = []
        if prefix + suffix > 0 { out += old[..<prefix] + [UInt8(ascii: "{")] }
        out += old[prefix..<(prefix + oldMiddle)] + Array(" => ".utf8) + new[prefix..<(prefix + newMiddle)]
        if prefix + suffix > 0 { out += [UInt8(ascii: "}")] + old[(old.count - suffix)...] }
        return out
    }
}

private extension String {
    func leftPadded(to width: Int) -> String { String(repeating: "0", count: max(0, width - count)) + self }
}
