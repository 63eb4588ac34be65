/// Languages by file name: the common ones by extension (or whole name), "Other" for the rest.
enum Languages {
    static let other = "Other"

    static let byName: [String: String] = [
        "makefile": "Makefile", "gnumakefile": "Makefile", "dockerfile": "Dockerfile", "cmakelists.txt": "CMake",
        "gemfile": "Ruby", "rakefile": "Ruby", "package.swift": "Swift",
    ]

    static let byExtension: [String: String] = [
        "swift": "Swift", "c": "C", "h": "C", "cc": "C++", "cpp": "C++", "cxx": "C++", "hpp": "C++", "hh": "C++", "hxx": "C++",
        "m": "Objective-C", "mm": "Objective-C++", "go": "Go", "rs": "Rust", "java": "Java", "kt": "Kotlin", "kts": "Kotlin",
        "scala": "Scala", "py": "Python", "pyi": "Python", "rb": "Ruby", "php": "PHP", "pl": "Perl", "pm": "Perl",
        "js": "JavaScript", "mjs": "JavaScript", "cjs": "JavaScript", "jsx": "JavaScript", "ts": "TypeScript", "tsx": "TypeScript",
        "cs": "C#", "fs": "F#", "hs": "Haskell", "ml": "OCaml", "mli": "OCaml", "ex": "Elixir", "exs": "Elixir", "erl": "Erlang",
        "clj": "Clojure", "lua": "Lua", "r": "R", "jl": "Julia", "dart": "Dart", "zig": "Zig", "sh": "Shell", "bash": "Shell",
        "zsh": "Shell", "ps1": "PowerShell", "sql": "SQL", "html": "HTML", "htm": "HTML", "css": "CSS", "scss": "SCSS",
        "less": "Less", "vue": "Vue", "json": "JSON", "yaml": "YAML", "yml": "YAML", "toml": "TOML", "xml": "XML",
        "md": "Markdown", "markdown": "Markdown", "rst": "reStructuredText", "txt": "Text", "cmake": "CMake",
        "proto": "Protocol Buffers", "gyb": "Swift", "s": "Assembly", "asm": "Assembly", "tex": "TeX", "vim": "Vim Script",
        "el": "Emacs Lisp", "groovy": "Groovy", "gradle": "Groovy", "ini": "INI", "cfg": "INI",
    ]

    /// The language of the file at `path` (bytes as git stores them).
    static func of(_ path: [UInt8]) -> String {
        let base = path.split(separator: UInt8(ascii: "/")).last.map { Array($0) } ?? path
        let name = String(decoding: base, as: UTF8.self).lowercased()
        if let language = byName[name] { return language }
        guard let dot = name.lastIndex(of: "."), dot != name.startIndex else { return other }
        return byExtension[String(name[name.index(after: dot)...])] ?? other
    }
}
