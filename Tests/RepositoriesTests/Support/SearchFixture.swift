import Foundation
import Repositories

/// A repository with every kind of file search meets: unicode text and paths, a long line, CRLF,
/// no final newline, binary files (a NUL early, and one past the 8,000 bytes git looks at),
/// empty files, Latin-1 bytes, an executable, a symlink and a submodule (both skipped by git grep),
/// and paths holding wildcard characters and spaces.
enum SearchFixture {
    static func build(_ root: FixtureRoot, name: String = "search") async throws -> (FixtureRepository, commit: String) {
        let repo = try await root.makeRepository(name)
        try repo.write("README.md", "Grüße, Welt\nnaïve café\nΣίσυφος σ\n日本語のテキスト\nFOO foo Foo fOo\n\nfoofoo foo\n")
        try repo.write("src/main.swift", "import Foundation\n\nfunc search(query: String) -> [Match] {\n    let foo = query // TODO \\\\n\n    return []\n}\n")
        try repo.write("src/Sub/Types.swift", "struct Match { var path: String; var line: Int }\nenum Kind { case text, binary }\n")
        let long = (0..<2_000).map { $0 % 250 == 0 ? "needle" : "hay\($0) " }.joined()
        try repo.write("src/long.txt", "short needle\n" + long + "\nend needle needle\n")
        try repo.write("crlf.txt", "alpha\r\nbeta foo\r\ngamma\r\n")
        try repo.write("no-newline.txt", "first\nlast line foo")
        try repo.write("empty.txt", "")
        try repo.write("blank-lines.txt", "\n\n\nfoo\n\n")
        try repo.write("binary.bin", [0x66, 0x6F, 0x6F, 0x00, 0x01] + Array("foo\n".utf8))
        try repo.write("late-nul.dat", Array(String(repeating: "x", count: 8_100).utf8) + [0x0A, 0x66, 0x6F, 0x6F, 0x00, 0x0A])
        try repo.write("latin1.txt", [0x63, 0x61, 0x66, 0xE9, 0x20, 0x66, 0x6F, 0x6F, 0x0A, 0xC9, 0x54, 0xC9, 0x0A])
        try repo.write("bin/run.sh", "#!/bin/sh\necho foo\n", executable: true)
        try repo.write("dir with space/file name.txt", "foo bar\n")
        try repo.write("a*b/literal.txt", "foo star\n")
        try repo.write("ünïcode/ñame.txt", "foo ünï\n")
        try repo.write("x/y/z/deep.swift", "let foo = 1\n")
        try repo.write("Sources/App.swift", "FOO = foo + Foo\n")
        try repo.symlink("link-to-foo", to: "foo-target")
        try await GitCommand.run(["add", "-A"], in: repo.directory)
        // A submodule entry (git grep without --recurse-submodules skips it).
        try await GitCommand.run(["update-index", "--add", "--cacheinfo", "160000,\(String(repeating: "ab", count: 20)),vendor/foo"], in: repo.directory)
        let commit = try await repo.commit("every kind of file")
        return (repo, commit)
    }

    /// Literal queries, case-sensitive or not.
    static let literals: [(String, Bool)] = [
        ("foo", false), ("Foo", false), ("needle", false), ("é", false), ("café", false), ("日本", false), ("a", false),
        ("o", false), ("  ", false), ("foo\r", false), ("-foo", false), ("σ", false), ("foo bar", false), ("hay1999 ", false),
        ("needle needle", false), ("foofoo", false), ("nothing-matches-this", false), ("\\", false), ("x", false),
        ("FOO", true), ("GRÜSSE", true), ("grüße", true), ("CAFÉ", true), ("NEEDLE", true), ("Σ", true), ("o", true), ("ét", true),
        ("FoO bAr", true), ("MATCH", true),
    ]

    /// Regular expressions, case-sensitive or not.
    static let regexes: [(String, Bool)] = [
        ("fo+", false), ("^foo", false), ("foo$", false), ("f.o", false), ("[Ff]oo", false), ("(foo|bar)", false), ("a|b", false),
        ("x*", false), ("é.", false), ("^$", false), ("[[:upper:]]{2,}", false), ("\\<foo\\>", false), ("needle.*needle", false),
        ("(ab|cd)ef", false), ("[^a-z]oo", false), (".", false), ("o{2}", false), ("(f|b)(o|a)(o|r)", false), ("\\bfoo", false),
        ("foo|日本", false), ("[0-9]+", false), ("(^|[^a-z])foo", false), ("[[:space:]]foo", false), ("e$", false), ("a*", false),
        ("foo\\.", false), ("foo", false), ("\\w+", false), ("^.{0,3}$", false), ("(a|)b", false), ("[]a]", false), ("hay1[0-9]{2}9 ", false),
        ("FO+", true), ("[f]OO", true), ("CAFÉ|naÏve", true), ("^[A-Z]", true), ("match\\b", true), ("(Foo){2}", true),
    ]

    /// Pathspecs: directories, files, globs (which match across '/'), literal wildcard characters.
    static let paths: [String] = [
        "src", "src/", "*.txt", "*.swift", "src/*.swift", "x", "x/y", "dir with space", "a*b", "?rlf.txt", "[cn]*", "ünïcode",
        "nonexistent", "README.md", "*/deep.swift", "x/**", "S*", "src/Sub/Types.swift", "*",
    ]
}
