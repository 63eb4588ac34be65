import Conveyor
import Foundation
import IOSupport
import Repositories
import Testing
import TestSupport

/// Celery calls the repository jobs by name, as a Django code host would.
@Suite("Python Celery client → diffs.compute")
struct PythonCallsDiffsTests {
    @Test("send_task('diffs.compute') with kwargs or positional arguments gets the diff; a bad name raises ValueError")
    func pythonCallsDiffs() async throws {
        try TestEnvironment.requirePython()
        let repository = try await TwoCommitRepository(first: "one\ntwo\n", second: "one\n2\nthree\n")
        defer { repository.remove() }

        let queue = TestEnvironment.uniqueQueue("py-diffs")
        let pool = RepositoryPool(root: try RepositoryRoot(repository.root.path), environment: try GitEnvironment())
        defer { pool.close() }
        let worker = try await TestWorker(queue: queue) { registry in
            RepositoryJobs.registerDiffs(into: &registry, service: DiffService(repositories: pool))
        }
        let result: JSON
        do {
            result = try await runPython("call_diffs.py", [queue, "project", "HEAD~1", "main"])
            try await worker.stop()
        } catch {
            try? await worker.stop()
            throw error
        }
        let patch = "diff --git a/file.txt b/file.txt\nindex 814f4a4..f04eb26 100644\n--- a/file.txt\n+++ b/file.txt\n@@ -1,2 +1,3 @@\n one\n-two\n+2\n+three\n"
        #expect(result["kwargs"]?["patch"]?.string == patch)
        #expect(result["kwargs"]?["files"]?[0]?["hunks"]?[0]?["lines"] == [" one", "-two", "+2", "+three"])
        #expect(result["kwargs"]?["stats"] == ["files": 1, "additions": 2, "deletions": 1])
        // context=0, renames=False, algorithm='myers', positionally.
        #expect(result["positional"]?["patch"]?.string?.contains("@@ -2 +2,2 @@ one\n-two\n+2\n+three\n") == true,
                "\(result["positional"]?["patch"]?.string ?? "nil")")
        #expect(result["bad"]?["raised"] == true)
        #expect(result["bad"]?["type"] == "ValueError")
        #expect(result["bad"]?["state"] == "FAILURE")
        #expect(result["bad"]?["message"]?.string?.contains("'..'") == true, "\(result["bad"]?.text() ?? "nil")")
    }
}
