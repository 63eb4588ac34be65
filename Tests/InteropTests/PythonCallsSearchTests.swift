import Conveyor
import Foundation
import IOSupport
import Repositories
import Testing
import TestSupport

/// Celery calls repos.index and repos.search by name, as a Django code host would.
@Suite("Python Celery client → repos.index, repos.search")
struct PythonCallsSearchTests {
    @Test("send_task('repos.index') indexes HEAD; send_task('repos.search') with kwargs or positional arguments gets git grep's lines; a bad regex raises ValueError")
    func pythonCallsSearch() async throws {
        try TestEnvironment.requirePython()
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("conveyor-interop-repos-\(UUID().uuidString)")
            .resolvingSymlinksInPath()
        defer { try? FileManager.default.removeItem(at: root) }
        let repo = root.appendingPathComponent("project")
        try FileManager.default.createDirectory(at: repo, withIntermediateDirectories: true)
        try await git(["init", "-q", "-b", "main"], in: repo.path)
        try Data("one\ntwo\nonly\n".utf8).write(to: repo.appendingPathComponent("file.txt"))
        try await git(["add", "-A"], in: repo.path)
        try await git(["commit", "-q", "-m", "one"], in: repo.path)
        try Data("one\n2\nTwo two\n".utf8).write(to: repo.appendingPathComponent("file.txt"))
        try await git(["commit", "-q", "-a", "-m", "two"], in: repo.path)
        let head = try await gitText(["rev-parse", "HEAD"], in: repo.path)
        let first = try await gitText(["rev-parse", "HEAD~1"], in: repo.path)

        let queue = TestEnvironment.uniqueQueue("py-search")
        let pool = RepositoryPool(root: try RepositoryRoot(root.path), environment: try GitEnvironment())
        defer { pool.close() }
        let indexDirectory = root.appendingPathComponent(".index").path
        let index = SearchIndex(store: try IndexStore(directory: indexDirectory), repositories: pool)
        let worker = try await TestWorker(queue: queue) { registry in
            RepositoryJobs.registerIndex(into: &registry, service: IndexService(index: index))
            RepositoryJobs.registerSearch(into: &registry, service: SearchService(repositories: pool, index: index, deadline: .seconds(hangGuard)))
        }
        let result: JSON
        do {
            result = try await runPython("call_search.py", [queue, "project"])
            try await worker.stop()
        } catch {
            try? await worker.stop()
            throw error
        }
        #expect(result["index"]?["commit"]?.string == head && result["index"]?["files"] == 1)
        #expect(result["index"]?["new_blobs"] == 1 && result["index"]?["languages"]?["Text"]?["lines"] == 3,
                "\(result["index"]?.text() ?? "nil")")
        // Searched through the index (HEAD is the commit indexed).
        #expect(result["kwargs"]?["commit"]?.string == head)
        #expect(result["kwargs"]?["matches"] == [["path": "file.txt", "line": 3, "text": "Two two", "ranges": [[0, 3], [4, 7]]]])
        #expect(result["kwargs"]?["files_matched"] == 1 && result["kwargs"]?["truncated"] == false)
        // '^o' at HEAD~1 in file.txt, limit 1: "one" then "only" matched; one returned, truncated.
        #expect(result["positional"]?["commit"]?.string == first)
        #expect(result["positional"]?["matches"] == [["path": "file.txt", "line": 1, "text": "one", "ranges": [[0, 1]]]])
        #expect(result["positional"]?["truncated"] == true)
        #expect(result["bad"]?["raised"] == true)
        #expect(result["bad"]?["type"] == "ValueError")
        #expect(result["bad"]?["state"] == "FAILURE")
        #expect(result["bad"]?["message"]?.string?.contains("invalid regular expression '('") == true, "\(result["bad"]?.text() ?? "nil")")
    }

    private func gitText(_ arguments: [String], in directory: String) async throws -> String {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("git-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: file) }
        let child = try Subprocess.spawn("/usr/bin/git", ["-C", directory] + arguments, environment: ["PATH": "/usr/bin:/bin", "HOME": directory],
                                         standardOutput: .file(file), closeOtherDescriptors: true)
        guard await child.wait() == 0 else { throw PythonFailed("git \(arguments.joined(separator: " ")) failed") }
        return try String(contentsOfFile: file, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    private func git(_ arguments: [String], in directory: String) async throws {
        let environment = ["PATH": "/usr/bin:/bin", "HOME": directory, "GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": "/dev/null",
                           "GIT_AUTHOR_NAME": "T", "GIT_AUTHOR_EMAIL": "t@example.com", "GIT_COMMITTER_NAME": "T",
                           "GIT_COMMITTER_EMAIL": "t@example.com"]
        let child = try Subprocess.spawn("/usr/bin/git", ["-C", directory] + arguments, environment: environment,
                                         closeOtherDescriptors: true)
        let status = await child.wait()
        guard status == 0 else { throw PythonFailed("git \(arguments.joined(separator: " ")) exited \(status)") }
    }
}
