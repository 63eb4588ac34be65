/// A ref or revision as a caller gave it, checked before git sees it.
///
/// It goes to git only on `cat-file`'s standard input (never as an argument), so it cannot be
/// read as an option there; a leading `-` is refused all the same, as are whitespace and control
/// characters (one request is one line) and names longer than git's own path limit.
enum RefName {
    static let maxLength = 4_096

    static func validate(_ ref: String, role: String) throws -> String {
        guard !ref.isEmpty, ref.utf8.count <= maxLength else {
            throw RepositoryError(.invalidRef, "\(role) must be 1 to \(maxLength) bytes")
        }
        guard !ref.hasPrefix("-") else {
            throw RepositoryError(.invalidRef, "\(role) \(quoted(ref)) starts with '-'; git would read it as an option")
        }
        guard !ref.unicodeScalars.contains(where: { $0.value <= 0x20 || $0.value == 0x7F }) else {
            throw RepositoryError(.invalidRef, "\(role) \(quoted(ref)) holds whitespace or control characters")
        }
        return ref
    }
}
