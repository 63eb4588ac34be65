/// One entry of a tree listing, as `git ls-tree -r` names it.
public struct TreeEntry: Sendable, Hashable {
    /// Octal mode as git writes it: `100644`, `100755`, `120000` (symlink), `160000` (submodule), `40000` (tree).
    public var mode: String
    /// The object id (hex).
    public var id: String
    /// Path from the root of the listed tree, `/`-separated, raw bytes as stored.
    public var path: [UInt8]

    /// `blob`, `tree` or `commit` (a submodule), from the mode.
    public var type: String {
        switch mode {
        case "40000": "tree"
        case "160000": "commit"
        default: "blob"
        }
    }

    /// The path as text (invalid UTF-8 replaced).
    public var pathText: String { String(decoding: path, as: UTF8.self) }
}

extension ObjectReader {
    /// Lists a tree (a tree id, or anything `^{tree}` peels: a commit id, a ref), recursively
    /// when asked, in git's order (by path bytes, as `ls-tree -r`): blobs and submodules, not the
    /// trees themselves when recursive. Reads one level of subtrees per round trip.
    /// - Parameters:
    ///   - maxEntries: a bound on the listing; past it, `.invalidArgument` is thrown.
    public func listTree(_ treeish: String, recursive: Bool = true, maxEntries: Int = 5_000_000) async throws -> [TreeEntry] {
        guard let root = try await info(["\(treeish)^{tree}"])[0] else {
            throw RepositoryError(.unknownRevision, "\(treeish) names no tree")
        }
        let idLength = root.id.utf8.count / 2
        var entries: [TreeEntry] = []
        var level: [(prefix: [UInt8], id: String)] = [([], root.id)]
        while !level.isEmpty {
            var next: [(prefix: [UInt8], id: String)] = []
            var pending = level
            pending.reverse()
            try await read(level.map(\.id)) { object, bytes in
                guard object.type == "tree", let item = pending.popLast() else {
                    throw RepositoryError(.corruptRepository, "\(object.id) is a \(object.type), expected a tree")
                }
                for entry in try Self.parseTree(bytes, prefix: item.prefix, idLength: idLength) {
                    if recursive && entry.mode == "40000" {
                        next.append((entry.path + [UInt8(ascii: "/")], entry.id))
                    } else {
                        entries.append(entry)
                    }
                    if entries.count + next.count > maxEntries {
                        throw RepositoryError(.invalidArgument, "the tree has more than \(maxEntries) entries")
                    }
                }
            }
            level = next
        }
        if recursive { entries.sort { $0.path.lexicographicallyPrecedes($1.path) } }
        return entries
    }

    /// Parses a raw tree object: `<mode> <name>\0<binary id>` repeated.
    static func parseTree(_ bytes: ArraySlice<UInt8>, prefix: [UInt8], idLength: Int) throws -> [TreeEntry] {
        var entries: [TreeEntry] = []
        var index = bytes.startIndex
        let hex = Array("0123456789abcdef".utf8)
        while index < bytes.endIndex {
            guard let space = bytes[index...].firstIndex(of: UInt8(ascii: " ")),
                  let nul = bytes[space...].firstIndex(of: 0),
                  bytes.endIndex - (nul + 1) >= idLength else {
                throw RepositoryError(.corruptRepository, "a tree object is malformed")
            }
            let mode = String(decoding: bytes[index..<space], as: UTF8.self)
            var id: [UInt8] = []
            id.reserveCapacity(idLength * 2)
            for byte in bytes[(nul + 1)..<(nul + 1 + idLength)] {
                id.append(hex[Int(byte >> 4)])
                id.append(hex[Int(byte & 0xF)])
            }
            entries.append(TreeEntry(mode: mode, id: String(decoding: id, as: UTF8.self), path: prefix + bytes[(space + 1)..<nul]))
            index = nul + 1 + idLength
        }
        return entries
    }
}
