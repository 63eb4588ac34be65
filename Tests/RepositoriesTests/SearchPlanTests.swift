@testable import Repositories
import Testing

/// The trigram plan of a query: what it asks the index for, and that it never leaves out a file
/// that matches (checked against verifying every file).
@Suite("repos.search query plans")
struct SearchPlanTests {
    private func plan(_ query: String, regex: Bool = false, ignoreCase: Bool = false) throws -> TrigramQuery {
        QueryPlanner.plan(try SearchRequest(query: query, regex: regex, ignoreCase: ignoreCase))
    }

    private func t(_ text: String) -> TrigramQuery {
        let bytes = Array(text.utf8)
        return .trigram(Trigram(bytes[0], bytes[1], bytes[2]))
    }

    @Test("a literal is the AND of its folded trigrams; under three bytes it is .all; -i drops trigrams with non-ASCII bytes")
    func literals() throws {
        #expect(try plan("Foobar") == .and([t("foo"), t("oob"), t("oba"), t("bar")]))
        #expect(try plan("abab") == .and([t("aba"), t("bab")]))
        #expect(try plan("ab") == .all)
        #expect(try plan("xyz") == t("xyz"))
        let accented = Array("caf\u{e9}s".utf8)
        #expect(try plan("caf\u{e9}s") == .and([t("caf"), .trigram(Trigram(accented[1], accented[2], accented[3])),
                                                 .trigram(Trigram(accented[2], accented[3], accented[4])),
                                                 .trigram(Trigram(accented[3], accented[4], accented[5]))]))
        #expect(try plan("caf\u{e9}s", ignoreCase: true) == t("caf"))
        // A regex flag on a pattern without regex syntax plans (and searches) as a literal, as git does.
        #expect(try plan("Foobar", regex: true) == plan("Foobar"))
    }

    @Test("regexes: literal runs are ANDed, alternation is ORed, small sets multiply out, what is not analysed is .all")
    func regexes() throws {
        #expect(try plan("foo.*bar", regex: true) == .and([t("foo"), t("bar")]))
        #expect(try plan("(abc|def)", regex: true) == .or([t("abc"), t("def")]))
        #expect(try plan("[Ff]oo", regex: true) == t("foo"))
        #expect(try plan("[ab]cd", regex: true) == .or([t("acd"), t("bcd")]))
        #expect(try plan("colou?r", regex: true) == .or([.and([t("col"), t("olo"), t("lor")]), .and([t("col"), t("olo"), t("lou"), t("our")])]))
        #expect(try plan("fo+bar", regex: true) == t("bar"))
        #expect(try plan("(abc)+x", regex: true) == t("abc"))
        #expect(try plan("x*", regex: true) == .all)
        #expect(try plan("a|bcd", regex: true) == .all)
        #expect(try plan("\\w+foo", regex: true) == t("foo"))
        // Alternatives multiply out through the literal that follows them.
        #expect(try plan("(int|long) main", regex: true)
                == .or([QueryPlanner.literal(Array("int main".utf8), ignoreCase: false), QueryPlanner.literal(Array("long main".utf8), ignoreCase: false)]))
        // Past 16 alternatives a run is cut in two; both halves still narrow.
        let wide = try plan("[ab][cd][ef][gh][ij]xyz", regex: true)
        let snapshot = MemorySnapshot(repository: "r", commit: "c", files: [
            (Array("1".utf8), "1", Array("bdfhjxyz".utf8)), (Array("2".utf8), "2", Array("xyz bdfh".utf8)), (Array("3".utf8), "3", Array("jxyz".utf8)),
        ])
        #expect(snapshot.candidates(wide) == [0])
        #expect(try plan("[^a]bc", regex: true) == .all)
        #expect(try plan("a{0}bcd", regex: true) == t("bcd"))
    }

    @Test("plan soundness: on random files and random queries, every file that matches is a candidate")
    func soundness() throws {
        var generator = QueryGenerator(seed: 0xC0FFEE)
        let alphabet = Array("abcABC xyz\n(é)|.*".utf8) + [0xC3, 0xA9, 0x0D]
        var checked = 0
        for round in 0..<40 {
            let files = (0..<30).map { index -> (path: [UInt8], blob: String, content: [UInt8]) in
                let content = (0..<generator.below(200)).map { _ in alphabet[generator.below(alphabet.count)] }
                return (Array("f\(round)-\(index)".utf8), "blob\(index)", content)
            }
            let snapshot = MemorySnapshot(repository: "random", commit: "c\(round)", files: files)
            let texts = files.prefix(6).map { String(decoding: $0.content.filter { $0 != 0x0A }, as: UTF8.self) }.filter { !$0.isEmpty }
            for _ in 0..<25 {
                let (query, regex, ignoreCase) = generator.query(from: texts.isEmpty ? ["abc"] : texts)
                guard let request = try? SearchRequest(query: query, regex: regex, ignoreCase: ignoreCase),
                      let matcher = try? PatternMatcher(request) else { continue }
                let candidates = Set(snapshot.candidates(QueryPlanner.plan(request)))
                for (index, file) in snapshot.files.enumerated() where file.kind == .text {
                    let content = files.first { $0.path == file.path }?.content ?? []
                    var matched = false
                    _ = content.withUnsafeBufferPointer { LineScanner.scan($0, matcher, shouldStop: { false }) { _ in matched = true; return false } }
                    #expect(!matched || candidates.contains(index), "\(query.debugDescription) regex=\(regex) -i=\(ignoreCase): \(file.path) matches but is not a candidate")
                    checked += matched ? 1 : 0
                }
            }
        }
        #expect(checked > 500, "only \(checked) matching files were checked")
    }

    @Test("plan soundness for regexes built from the whole grammar (groups, alternation, brackets, dots, anchors, intervals, escapes)")
    func regexSoundness() throws {
        var generator = QueryGenerator(seed: 0xE4E)
        let alphabet = Array("abcab ABé\n".utf8)
        var checked = 0
        var planned = 0
        var narrowedMatches = 0
        for round in 0..<30 {
            let files = (0..<25).map { index -> (path: [UInt8], blob: String, content: [UInt8]) in
                (Array("f\(index)".utf8), "\(index)", (0..<generator.below(120)).map { _ in alphabet[generator.below(alphabet.count)] })
            }
            let snapshot = MemorySnapshot(repository: "random", commit: "c\(round)", files: files)
            for _ in 0..<40 {
                let pattern = Self.randomRegex(&generator, depth: 0)
                let ignoreCase = generator.below(3) == 0
                guard let request = try? SearchRequest(query: pattern, regex: true, ignoreCase: ignoreCase),
                      let matcher = try? PatternMatcher(request) else { continue }
                let plan = QueryPlanner.plan(request)
                if plan != .all { planned += 1 }
                let candidates = Set(snapshot.candidates(plan))
                for (index, file) in snapshot.files.enumerated() {
                    var matched = false
                    let content = files.first { $0.path == file.path }?.content ?? []
                    _ = content.withUnsafeBufferPointer { LineScanner.scan($0, matcher, shouldStop: { false }) { _ in matched = true; return false } }
                    #expect(!matched || candidates.contains(index), "\(pattern.debugDescription) -i=\(ignoreCase): \(file.path) matches, plan \(plan)")
                    checked += matched ? 1 : 0
                    narrowedMatches += matched && plan != .all ? 1 : 0
                }
            }
        }
        // Enough of the plans narrow, and enough files match those, for the check to mean something.
        #expect(checked > 500 && planned > 100 && narrowedMatches > 100,
                "checked \(checked) matching files, \(planned) plans narrowed, \(narrowedMatches) matches under them")
    }

    /// A random ERE over a small alphabet, from the whole grammar.
    static func randomRegex(_ generator: inout QueryGenerator, depth: Int) -> String {
        let branches = (0..<(1 + generator.below(depth == 0 ? 2 : 3))).map { _ -> String in
            (0..<(1 + generator.below(7))).map { _ -> String in
                let atom: String
                switch generator.below(depth < 2 ? 20 : 17) {
                case 0: atom = "."
                case 1: atom = generator.pick(["[ab]", "[^a]", "[a-c]", "[[:upper:]]", "[]a]", "[Bb]"])
                case 2: atom = generator.pick(["^", "$", "\\<", "\\b", "\\w", "\\."])
                case 17, 18, 19: atom = "(" + randomRegex(&generator, depth: depth + 1) + ")"
                default: atom = String(UnicodeScalar(generator.pick(Array("abcab ABé".unicodeScalars))))
                }
                return atom + generator.pick(["", "", "", "", "", "", "", "", "*", "+", "?", "{2}", "{0,2}", "{1,}"])
            }.joined()
        }
        return branches.joined(separator: "|")
    }

    @Test("the memory snapshot keeps path order, marks binaries (a NUL in the first 8,000 bytes) and answers ANDs and ORs")
    func memorySnapshot() throws {
        let snapshot = MemorySnapshot(repository: "r", commit: "c", files: [
            (Array("b.txt".utf8), "2", Array("hello world\n".utf8)),
            (Array("a.txt".utf8), "1", Array("Hello there\n".utf8)),
            (Array("c.bin".utf8), "3", Array("hello".utf8) + [0] + Array("world".utf8)),
            (Array("d.txt".utf8), "4", Array(repeating: UInt8(ascii: "x"), count: 8_000) + [0] + Array("world".utf8)),
        ])
        #expect(snapshot.files.map { String(decoding: $0.path, as: UTF8.self) } == ["a.txt", "b.txt", "c.bin", "d.txt"])
        #expect(snapshot.files.map(\.kind) == [.text, .text, .binary, .text])
        #expect(snapshot.candidates(.all) == [0, 1, 3])
        #expect(snapshot.candidates(.none) == [])
        #expect(snapshot.candidates(QueryPlanner.literal(Array("hello".utf8), ignoreCase: false)) == [0, 1])
        #expect(snapshot.candidates(QueryPlanner.literal(Array("world".utf8), ignoreCase: false)) == [1, 3])
        #expect(snapshot.candidates(.or([t("the"), t("wor")])) == [0, 1, 3])
        #expect(snapshot.candidates(.and([t("hel"), t("wor")])) == [1])
        #expect(snapshot.candidates(t("zzz")) == [])
    }
}
