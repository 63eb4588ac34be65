import TestSupport
/// Deterministic random queries for search tests (SplitMix64, so a failure replays).
struct QueryGenerator {
    private var random: SeededGenerator

    init(seed: UInt64) { random = SeededGenerator(seed: seed) }

    mutating func next() -> UInt64 { random.next() }

    mutating func below(_ bound: Int) -> Int { Int(next() % UInt64(max(1, bound))) }

    mutating func pick<T>(_ items: [T]) -> T { items[below(items.count)] }

    /// A substring of one of `texts` (1 to 8 characters), maybe case-flipped for -i, or a regex
    /// built from literal pieces and operators.
    mutating func query(from texts: [String]) -> (String, regex: Bool, ignoreCase: Bool) {
        let ignoreCase = below(3) == 0
        if below(2) == 0 {
            return (literal(from: texts, flip: ignoreCase), false, ignoreCase)
        }
        var pattern = ""
        for _ in 0..<(1 + below(3)) {
            var piece = literal(from: texts, flip: ignoreCase).filter { !"\\[](){}.*+?^$|".contains($0) }
            if piece.isEmpty { piece = "o" }
            switch below(7) {
            case 0: pattern += "(\(piece)|\(literal(from: texts, flip: false).filter { $0.isLetter }))"
            case 1: pattern += piece + ".*"
            case 2: pattern += "[\(piece.prefix(3))]"
            case 3: pattern += piece + "+"
            case 4: pattern += "^" + piece
            case 5: pattern += piece + "?"
            default: pattern += piece
            }
        }
        return (pattern.isEmpty ? "a" : pattern, true, ignoreCase)
    }

    private mutating func literal(from texts: [String], flip: Bool) -> String {
        let text = Array(pick(texts))
        let start = below(text.count)
        let length = 1 + below(8)
        var piece = String(text[start..<min(text.count, start + length)])
        if flip { piece = String(piece.map { below(2) == 0 && $0.uppercased().count == 1 ? Character($0.uppercased()) : $0 }) }
        return piece.isEmpty ? "o" : piece
    }
}
