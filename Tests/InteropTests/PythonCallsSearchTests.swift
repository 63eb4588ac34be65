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
        let repository = try await TwoCommitRepository(first: "one\ntwo\nonly\n", second: "one\n2\nTwo two\n")
        defer { repository.remove() }
        let head = try await repository.commit("HEAD")
        let first = try await repository.commit("HEAD~1")

        let queue = TestEnvironment.uniqueQueue("py-search")
        let pool = RepositoryPool(root: try RepositoryRoot(repository.root.path), environment: try GitEnvironment())
        defer { pool.close() }
        let indexDirectory = repository.root.appendingPathComponent(".index").path
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
}
