#if canImport(Glibc)
import Glibc
#endif

/// Plans a POSIX extended regular expression (glibc's dialect, as `git grep -E` compiles it):
/// parses it and derives which trigrams any match must hold. Literal runs become ANDs of their
/// trigrams, alternation becomes OR, small character sets (`[Ff]oo`) multiply out into
/// alternatives, and anything it does not analyse (`.`, `*`, classes, back-references, `\w`)
/// gives `.all` for its part. A pattern it cannot parse at all plans to `.all`: regcomp, not the
/// planner, decides whether a pattern is valid.
struct RegexPlanner {
    let ignoreCase: Bool

    /// Alternatives a set of exact strings may hold before the planner stops multiplying out.
    static let maxExact = 16

    /// What a part of the expression says about its matches: the exact set of strings it can
    /// match, when that is small and known, else a trigram query every match satisfies.
    struct Info {
        var exact: Set<[UInt8]>?
        var match: TrigramQuery

        static let unknown = Info(exact: nil, match: .all)
        static let empty = Info(exact: [[]], match: .all)
    }

    struct Unparsed: Error {}

    func plan(_ pattern: [UInt8]) -> TrigramQuery {
        var parser = Parser(bytes: pattern, planner: self)
        guard let info = try? parser.alternation(), parser.index == pattern.count else { return .all }
        return query(info)
    }

    func query(_ info: Info) -> TrigramQuery {
        guard let exact = info.exact else { return info.match }
        return QueryPlanner.or(exact.sorted { $0.lexicographicallyPrecedes($1) }.map { QueryPlanner.literal($0, ignoreCase: ignoreCase) })
    }

    func alternate(_ left: Info, _ right: Info) -> Info {
        if let a = left.exact, let b = right.exact, a.count + b.count <= Self.maxExact {
            return Info(exact: a.union(b), match: .all)
        }
        return Info(exact: nil, match: QueryPlanner.or([query(left), query(right)]))
    }

    /// A recursive-descent parser of the ERE grammar: alternation of branches of pieces, each an
    /// atom with quantifiers.
    struct Parser {
        let bytes: [UInt8]
        let planner: RegexPlanner
        var index = 0
        var depth = 0

        init(bytes: [UInt8], planner: RegexPlanner) {
            self.bytes = bytes
            self.planner = planner
        }

        var current: UInt8? { index < bytes.count ? bytes[index] : nil }

        mutating func alternation() throws -> Info {
            var info = try branch()
            while current == UInt8(ascii: "|") {
                index += 1
                info = planner.alternate(info, try branch())
            }
            return info
        }

        /// A concatenation: runs of exact pieces multiply out (while the set stays small); each
        /// run's trigrams and every other piece's query are ANDed.
        mutating func branch() throws -> Info {
            var parts: [TrigramQuery] = []
            var run: Set<[UInt8]> = [[]]
            while let byte = current, byte != UInt8(ascii: "|"), byte != UInt8(ascii: ")") {
                let info = try piece()
                if let exact = info.exact {
                    if run.count * exact.count <= RegexPlanner.maxExact {
                        run = Set(run.flatMap { left in exact.map { left + $0 } })
                    } else {
                        parts.append(planner.query(Info(exact: run, match: .all)))
                        run = exact
                    }
                } else {
                    parts.append(planner.query(Info(exact: run, match: .all)))
                    parts.append(info.match)
                    run = [[]]
                }
            }
            if parts.isEmpty { return Info(exact: run, match: .all) }
            parts.append(planner.query(Info(exact: run, match: .all)))
            return Info(exact: nil, match: QueryPlanner.and(parts))
        }

        mutating func piece() throws -> Info {
            var info = try atom()
            while let byte = current {
                switch byte {
                case UInt8(ascii: "*"):
                    info = .unknown
                case UInt8(ascii: "?"):
                    if var exact = info.exact, exact.count < RegexPlanner.maxExact {
                        exact.insert([])
                        info = Info(exact: exact, match: .all)
                    } else {
                        info = .unknown
                    }
                case UInt8(ascii: "+"):
                    info = Info(exact: nil, match: planner.query(info))
                case UInt8(ascii: "{"):
                    let minimum = try interval()
                    info = minimum == 0 ? .unknown : Info(exact: nil, match: planner.query(info))
                    continue
                default:
                    return info
                }
                index += 1
            }
            return info
        }

        /// `{n}`, `{n,}`, `{n,m}` or `{,m}`; returns n (0 when left out).
        mutating func interval() throws -> Int {
            index += 1
            var minimum = 0
            var digits = 0
            while let byte = current, byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") {
                minimum = min(minimum * 10 + Int(byte - UInt8(ascii: "0")), 1 << 20)
                digits += 1
                index += 1
            }
            if current == UInt8(ascii: ",") {
                index += 1
                while let byte = current, byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") { index += 1 }
            } else if digits == 0 {
                throw Unparsed()
            }
            guard current == UInt8(ascii: "}") else { throw Unparsed() }
            index += 1
            return minimum
        }

        mutating func atom() throws -> Info {
            guard let byte = current else { throw Unparsed() }
            index += 1
            switch byte {
            case UInt8(ascii: "("):
                depth += 1
                guard depth <= 200 else { throw Unparsed() }
                let inner = current == UInt8(ascii: ")") ? Info.empty : try alternation()
                guard current == UInt8(ascii: ")") else { throw Unparsed() }
                index += 1
                depth -= 1
                return inner
            case UInt8(ascii: "["):
                return try bracket()
            case UInt8(ascii: "."):
                return .unknown
            case UInt8(ascii: "^"), UInt8(ascii: "$"):
                return .empty
            case UInt8(ascii: "*"), UInt8(ascii: "+"), UInt8(ascii: "?"), UInt8(ascii: "{"):
                throw Unparsed()
            case UInt8(ascii: "\\"):
                guard let escaped = current else { throw Unparsed() }
                index += 1
                switch escaped {
                case UInt8(ascii: "b"), UInt8(ascii: "B"), UInt8(ascii: "<"), UInt8(ascii: ">"), UInt8(ascii: "`"), UInt8(ascii: "'"):
                    return .empty
                case _ where isalnum(Int32(escaped)) != 0:
                    // \w, \s, back-references and the like.
                    return .unknown
                default:
                    return Info(exact: [[escaped]], match: .all)
                }
            default:
                return Info(exact: [[byte]], match: .all)
            }
        }

        /// A bracket expression: a small plain set of bytes is exact; negation, classes,
        /// collating elements and wide ranges are not analysed.
        mutating func bracket() throws -> Info {
            var members = Set<UInt8>()
            var analysable = true
            if current == UInt8(ascii: "^") {
                analysable = false
                index += 1
            }
            var first = true
            while true {
                guard let byte = current else { throw Unparsed() }
                if byte == UInt8(ascii: "]") && !first {
                    index += 1
                    break
                }
                first = false
                if byte == UInt8(ascii: "["), index + 1 < bytes.count,
                   let kind = [UInt8(ascii: ":"), UInt8(ascii: "."), UInt8(ascii: "=")].first(where: { $0 == bytes[index + 1] }) {
                    // [:class:], [.coll.], [=equiv=]: skip to the matching close.
                    var end = index + 2
                    while end + 1 < bytes.count && !(bytes[end] == kind && bytes[end + 1] == UInt8(ascii: "]")) { end += 1 }
                    guard end + 1 < bytes.count else { throw Unparsed() }
                    index = end + 2
                    analysable = false
                    continue
                }
                if index + 2 < bytes.count && bytes[index + 1] == UInt8(ascii: "-") && bytes[index + 2] != UInt8(ascii: "]") {
                    // A collating element as an end point is not analysed.
                    guard bytes[index + 2] != UInt8(ascii: "[") else { throw Unparsed() }
                    let (low, high) = (byte, bytes[index + 2])
                    if low <= high && Int(high - low) < 8 { for member in low...high { members.insert(member) } } else { analysable = false }
                    index += 3
                    continue
                }
                members.insert(byte)
                index += 1
            }
            guard analysable, !members.isEmpty, members.count <= 8 else { return .unknown }
            return Info(exact: Set(members.map { [$0] }), match: .all)
        }
    }
}
