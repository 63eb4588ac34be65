/// Turns a search into the `TrigramQuery` the index answers (Russ Cox, "Regular Expression
/// Matching with a Trigram Index"). A plan is sound: it never excludes a file that matches; when
/// the query gives nothing to narrow with, it is `.all` and every file is verified.
public enum QueryPlanner {
    /// The plan for `request`.
    public static func plan(_ request: SearchRequest) -> TrigramQuery {
        if request.regex && !FixedPattern.isFixed(request.pattern) {
            return RegexPlanner(ignoreCase: request.ignoreCase).plan(request.pattern)
        }
        return literal(request.pattern, ignoreCase: request.ignoreCase)
    }

    /// A literal's plan: the AND of its (folded) trigrams; with `ignoreCase`, trigrams holding a
    /// non-ASCII byte are left out (another case of that letter has other bytes). `.all` under
    /// three bytes.
    public static func literal(_ bytes: some Collection<UInt8>, ignoreCase: Bool) -> TrigramQuery {
        let bytes = Array(bytes)
        guard bytes.count >= 3 else { return .all }
        var seen = Set<Trigram>()
        var parts: [TrigramQuery] = []
        for index in 0...(bytes.count - 3) {
            let window = bytes[index..<(index + 3)]
            if ignoreCase && window.contains(where: { $0 >= 0x80 }) { continue }
            let trigram = Trigram(window[index], window[index + 1], window[index + 2])
            if seen.insert(trigram).inserted { parts.append(.trigram(trigram)) }
        }
        return and(parts)
    }

    /// `a AND b AND …`, simplified: `.all` parts dropped, `.none` wins, nesting flattened.
    static func and(_ parts: [TrigramQuery]) -> TrigramQuery {
        var flat: [TrigramQuery] = []
        for part in parts {
            switch part {
            case .all: continue
            case .none: return .none
            case .and(let inner): flat += inner
            default: if !flat.contains(part) { flat.append(part) }
            }
        }
        if flat.isEmpty { return .all }
        return flat.count == 1 ? flat[0] : .and(flat)
    }

    /// `a OR b OR …`, simplified: `.all` wins, `.none` parts dropped, nesting flattened.
    static func or(_ parts: [TrigramQuery]) -> TrigramQuery {
        var flat: [TrigramQuery] = []
        for part in parts {
            switch part {
            case .all: return .all
            case .none: continue
            case .or(let inner): flat += inner
            default: if !flat.contains(part) { flat.append(part) }
            }
        }
        if flat.isEmpty { return .none }
        return flat.count == 1 ? flat[0] : .or(flat)
    }
}

/// git's test for a pattern with no regular expression syntax (`is_fixed` in grep.c): such a
/// pattern is searched as a fixed string even with `-E`.
enum FixedPattern {
    /// git's `GIT_REGEX_SPECIAL` set: `$()*+.?[\^{|`.
    static let special: Set<UInt8> = Set("$()*+.?[\\^{|".utf8)

    static func isFixed(_ pattern: [UInt8]) -> Bool { !pattern.contains(where: special.contains) }
}
