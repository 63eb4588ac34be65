import Foundation

/// How every git process is started: a scrubbed environment and command-line configuration
/// that leave nothing in the repository, the user's home or the system able to run a command.
///
/// Only plumbing commands run (`cat-file`, `diff-tree`), which never call textconv filters,
/// `diff.external`, hooks, pagers or fsmonitor; the `-c` settings below close those doors anyway,
/// in case a later command is added. Every repository is opened as bare, in its git directory:
/// no work tree is read (so `.gitattributes` in a checkout do not apply; `info/attributes` does).
/// `safe.directory` is left as git has it: a repository owned by
/// another user is refused ("dubious ownership"), since its config could not be trusted.
public struct GitEnvironment: Sendable {
    /// The git executable (an absolute path).
    public var executable: String
    /// An empty directory that serves as `HOME`, so no user config is read.
    public var home: String

    /// - Parameters:
    ///   - executable: git's absolute path; the first of /usr/bin/git, /usr/local/bin/git when nil.
    ///   - home: an empty directory for `HOME`; a fresh one under the temporary directory when nil.
    public init(executable: String? = nil, home: String? = nil) throws {
        if let executable {
            self.executable = executable
        } else {
            guard let found = ["/usr/bin/git", "/usr/local/bin/git"].first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else {
                throw RepositoryError(.gitFailed, "git is not installed (looked for /usr/bin/git and /usr/local/bin/git)")
            }
            self.executable = found
        }
        if let home {
            self.home = home
        } else {
            let directory = FileManager.default.temporaryDirectory.appendingPathComponent("conveyor-git-home-\(getpid())")
            try? FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            self.home = directory.path
        }
    }

    /// The whole environment of a git child: nothing is inherited from the worker.
    public func variables(gitDirectory: String) -> [String: String] {
        [
            "PATH": "/usr/bin:/bin",
            "HOME": home,
            "XDG_CONFIG_HOME": home,
            "GIT_DIR": gitDirectory,
            "GIT_CONFIG_NOSYSTEM": "1",
            "GIT_CONFIG_GLOBAL": "/dev/null",
            "GIT_ATTR_NOSYSTEM": "1",
            "GIT_TERMINAL_PROMPT": "0",
            "GIT_ASKPASS": "/bin/false",
            "SSH_ASKPASS": "/bin/false",
            "GIT_PAGER": "cat",
            "PAGER": "cat",
            "GIT_OPTIONAL_LOCKS": "0",
            "GIT_NO_LAZY_FETCH": "1",
            "GIT_PROTOCOL_FROM_USER": "0",
            "LC_ALL": "C",
        ]
    }

    /// Settings given on the command line, which win over the repository's own config.
    public static let safetySettings: [String] = [
        // No work tree: git would otherwise read blobs from checked-out files it believes clean
        // (running `filter.*.clean` commands from the repository's config to do so).
        "core.bare=true",
        "core.hooksPath=/dev/null",
        "core.fsmonitor=false",
        "core.pager=cat",
        "core.askPass=/bin/false",
        "core.sshCommand=/bin/false",
        "core.gitProxy=",
        "diff.external=",
        "protocol.allow=never",
        "credential.helper=",
        "core.quotePath=true",
        "color.ui=false",
    ]

    /// `git <safety settings> --no-pager <subcommand and arguments>`.
    public func arguments(_ command: [String]) -> [String] {
        Self.safetySettings.flatMap { ["-c", $0] } + ["--no-pager"] + command
    }
}
