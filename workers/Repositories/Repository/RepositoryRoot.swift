import Foundation

/// The directory repositories live under, and the only way a repository name becomes a path.
///
/// A name is a relative path (`team/project`, `project.git`); it may not be absolute, contain
/// `.` or `..` components, empty components, control characters, or lead anywhere outside the
/// root once symlinks are resolved. The git directory is found without asking git (`<dir>/.git`,
/// or `<dir>` itself when bare), so git never searches upward out of the root.
public struct RepositoryRoot: Sendable {
    /// The root, symlinks resolved.
    public let path: String

    /// - Throws: `.invalidArgument` when `path` is not an existing directory.
    public init(_ path: String) throws {
        let resolved = URL(fileURLWithPath: path).resolvingSymlinksInPath().path
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: resolved, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw RepositoryError(.invalidArgument, "repositories root \(path) is not a directory")
        }
        self.path = resolved
    }

    /// Where a repository's files are.
    public struct Location: Sendable, Hashable {
        /// The name as given.
        public var name: String
        /// The git directory (bare repository or `.git`), symlinks resolved.
        public var gitDirectory: String
        /// Where git runs: the work tree of a non-bare repository, else the git directory.
        public var workingDirectory: String
    }

    /// Longest accepted repository name, in bytes.
    public static let maxNameLength = 1_024

    /// Resolves `name` to a repository inside the root.
    /// - Throws: `.invalidRepository` for names that leave the root, `.repositoryNotFound` when no
    ///   git repository is there.
    public func locate(_ name: String) throws -> Location {
        guard !name.isEmpty, name.utf8.count <= Self.maxNameLength else {
            throw RepositoryError(.invalidRepository, "repository name must be 1 to \(Self.maxNameLength) bytes")
        }
        guard !name.hasPrefix("/") else {
            throw RepositoryError(.invalidRepository, "repository name \(quoted(name)) is absolute; give a path relative to the repositories root")
        }
        guard !name.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7F || $0 == "\\" }) else {
            throw RepositoryError(.invalidRepository, "repository name \(quoted(name)) holds control characters or backslashes")
        }
        let components = name.split(separator: "/", omittingEmptySubsequences: false)
        for component in components where component.isEmpty || component == "." || component == ".." {
            throw RepositoryError(.invalidRepository, "repository name \(quoted(name)) has an empty, '.' or '..' component; it must stay inside the root")
        }
        let joined = URL(fileURLWithPath: path).appendingPathComponent(name)
        let directory = joined.resolvingSymlinksInPath().path
        guard inside(directory) else {
            throw RepositoryError(.invalidRepository, "repository \(quoted(name)) leads outside the repositories root (a symlink?)")
        }
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw RepositoryError(.repositoryNotFound, "no repository named \(quoted(name)) under the repositories root")
        }
        let dotGit = URL(fileURLWithPath: directory).appendingPathComponent(".git")
        var dotGitIsDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: dotGit.path, isDirectory: &dotGitIsDirectory) {
            // A `.git` file (worktrees, submodules) points elsewhere; follow it only inside the root.
            let gitDirectory = dotGitIsDirectory.boolValue ? dotGit.resolvingSymlinksInPath().path : try followGitFile(dotGit, name: name)
            guard inside(gitDirectory) else {
                throw RepositoryError(.invalidRepository, "repository \(quoted(name)) keeps its git directory outside the repositories root")
            }
            guard Self.looksLikeGitDirectory(gitDirectory) else {
                throw RepositoryError(.repositoryNotFound, "\(quoted(name)) has a .git that is not a git directory")
            }
            return Location(name: name, gitDirectory: gitDirectory, workingDirectory: directory)
        }
        guard Self.looksLikeGitDirectory(directory) else {
            throw RepositoryError(.repositoryNotFound, "\(quoted(name)) is not a git repository")
        }
        return Location(name: name, gitDirectory: directory, workingDirectory: directory)
    }

    private func inside(_ candidate: String) -> Bool {
        candidate == path || candidate.hasPrefix(path.hasSuffix("/") ? path : path + "/")
    }

    private func followGitFile(_ file: URL, name: String) throws -> String {
        guard let text = try? String(contentsOf: file, encoding: .utf8), text.hasPrefix("gitdir: ") else {
            throw RepositoryError(.repositoryNotFound, "\(quoted(name)) has an unreadable .git file")
        }
        let target = text.dropFirst("gitdir: ".count).trimmingCharacters(in: .newlines)
        let base = file.deletingLastPathComponent()
        let url = target.hasPrefix("/") ? URL(fileURLWithPath: target) : base.appendingPathComponent(target)
        return url.resolvingSymlinksInPath().path
    }

    /// A git directory has `HEAD`, `objects/` and `refs/` (what git itself checks first).
    static func looksLikeGitDirectory(_ directory: String) -> Bool {
        let manager = FileManager.default
        return manager.fileExists(atPath: directory + "/HEAD") && manager.fileExists(atPath: directory + "/objects")
            && manager.fileExists(atPath: directory + "/refs")
    }
}

/// A name as it appears in messages: quoted, at most 200 characters.
func quoted(_ text: String) -> String {
    let short = text.count > 200 ? String(text.prefix(200)) + "…" : text
    return "'\(short)'"
}
