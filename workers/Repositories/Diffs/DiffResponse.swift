/// A diff as read from `diff-tree --raw -p`, limits applied.
struct ParsedDiff: Sendable {
    var files: [DiffFile] = []
    var changedFiles = 0
    var additions = 0
    var deletions = 0
    var patch: [UInt8] = []
    var truncated = false
}

/// Reads one answer of `diff-tree --stdin -r --raw -p` up to the sentinel line, building the
/// structure while the bytes stream in: a file's text is kept only while it is within its
/// limits, so a huge diff costs its counts, not its size in memory.
final class DiffResponse: GitResponse, @unchecked Sendable {
    /// Echoed by diff-tree for a line that is not an object id; no patch line starts with `~`.
    static let sentinel = Array("~conveyor-end~".utf8)

    private enum Phase { case start, raw, patch }

    private struct Section {
        var change: RawChange
        var text: [UInt8] = []
        var lines = 0
        var bytes = 0
        var additions = 0
        var deletions = 0
        var binary = false
        var oversized = false
        var inHunk = false
        var secondPart = false
        var hunks: [DiffHunk] = []
    }

    private let limits: DiffLimits
    private var phase = Phase.start
    private var changes: [RawChange] = []
    private var section: Section?
    private var sections = 0
    private var budgetSpent = false
    private var keptLines = 0
    private var result = ParsedDiff()

    init(limits: DiffLimits) { self.limits = limits }

    func consume(_ buffer: inout ReadBuffer) throws -> ParsedDiff? {
        while let line = buffer.line() {
            if line.elementsEqual(Self.sentinel) { return try finish() }
            switch phase {
            case .start:
                phase = .raw
                // diff-tree echoes the pair of trees first when they differ.
                if line.first != UInt8(ascii: ":") { continue }
                changes.append(try RawChange.parse(line))
            case .raw:
                if line.first == UInt8(ascii: ":") {
                    changes.append(try RawChange.parse(line))
                } else if line.isEmpty {
                    phase = .patch
                } else {
                    throw RepositoryError(.gitFailed, "unexpected diff-tree output: \(String(decoding: line.prefix(200), as: UTF8.self))")
                }
            case .patch:
                try patchLine(line)
            }
        }
        return nil
    }

    private func patchLine(_ line: ArraySlice<UInt8>) throws {
        if line.starts(with: "diff --git ".utf8), var typeChange = section, typeChange.change.status == "T", !typeChange.secondPart {
            // A type change (file to symlink, say) prints as a deletion then a creation: two
            // parts of one change.
            typeChange.secondPart = true
            typeChange.inHunk = false
            section = typeChange
        } else if line.starts(with: "diff --git ".utf8) {
            try closeSection()
            guard sections < changes.count else {
                throw RepositoryError(.gitFailed, "diff-tree printed more patches than changes")
            }
            section = Section(change: changes[sections])
            sections += 1
        }
        guard var current = section else {
            throw RepositoryError(.gitFailed, "diff-tree printed a patch line outside a file: \(String(decoding: line.prefix(200), as: UTF8.self))")
        }
        section = nil
        current.lines += 1
        current.bytes += line.count + 1
        if !current.oversized && (current.lines > limits.maxFileLines || current.bytes > limits.maxFileBytes) {
            current.oversized = true
            current.text = []
            current.hunks = []
        }
        if !current.oversized {
            current.text.append(contentsOf: line)
            current.text.append(UInt8(ascii: "\n"))
        }
        if line.starts(with: "@@ ".utf8) {
            current.inHunk = true
            if !current.oversized { current.hunks.append(try Self.hunkHeader(line)) }
        } else if current.inHunk {
            switch line.first {
            case UInt8(ascii: "+"): current.additions += 1
            case UInt8(ascii: "-"): current.deletions += 1
            default: break
            }
            if !current.oversized, !current.hunks.isEmpty {
                current.hunks[current.hunks.count - 1].lines.append(String(decoding: line, as: UTF8.self))
            }
        } else if line.starts(with: "Binary files ".utf8) {
            current.binary = true
        }
        section = current
    }

    private func closeSection() throws {
        guard let current = section else { return }
        section = nil
        result.additions += current.additions
        result.deletions += current.deletions
        guard result.files.count < limits.maxFiles else {
            result.truncated = true
            return
        }
        let fits = !current.oversized && !budgetSpent && keptLines + current.lines <= limits.maxLines
            && result.patch.count + current.text.count <= limits.maxBytes
        if fits {
            keptLines += current.lines
            result.patch += current.text
        } else {
            budgetSpent = budgetSpent || !current.oversized
            result.truncated = true
        }
        result.files.append(current.change.file(binary: current.binary, additions: current.additions, deletions: current.deletions,
                                                collapsed: !fits, hunks: fits ? current.hunks : []))
    }

    private func finish() throws -> ParsedDiff {
        try closeSection()
        guard sections == changes.count else {
            throw RepositoryError(.gitFailed, "diff-tree listed \(changes.count) changes but printed \(sections) patches")
        }
        result.changedFiles = changes.count
        return result
    }

    /// `@@ -a[,b] +c[,d] @@[ header]`.
    static func hunkHeader(_ line: ArraySlice<UInt8>) throws -> DiffHunk {
        let text = String(decoding: line, as: UTF8.self)
        let parts = text.split(separator: " ", maxSplits: 3, omittingEmptySubsequences: false)
        func range(_ part: Substring, _ sign: Character) -> (Int, Int)? {
            guard part.first == sign else { return nil }
            let numbers = part.dropFirst().split(separator: ",", omittingEmptySubsequences: false)
            guard (1...2).contains(numbers.count), let start = Int(numbers[0]), start >= 0 else { return nil }
            guard numbers.count == 2 else { return (start, 1) }
            guard let count = Int(numbers[1]), count >= 0 else { return nil }
            return (start, count)
        }
        guard parts.count >= 4, let old = range(parts[1], "-"), let new = range(parts[2], "+"), parts[3].hasPrefix("@@") else {
            throw RepositoryError(.gitFailed, "unexpected hunk header: \(text.prefix(200))")
        }
        let rest = parts[3].dropFirst(2)
        return DiffHunk(oldStart: old.0, oldLines: old.1, newStart: new.0, newLines: new.1,
                        header: String(rest.hasPrefix(" ") ? rest.dropFirst() : rest), lines: [])
    }
}
