import Foundation
@testable import Repositories
import TestSupport
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// The long-lived git processes: restarted when they die, stopped when they take too long, and
/// the object reader's listings and reads agree with git's own plumbing.
@Suite("Git processes")
struct GitProcessTests {
    static func repository(_ root: FixtureRoot) async throws -> (FixtureRepository, String, String) {
        let repo = try await root.makeRepository("r")
        try repo.write("a.txt", "a\n")
        try repo.write("dir/b.txt", "b\n")
        try repo.write("dir/sub/c.bin", [0, 1, 2])
        try repo.write("dir.txt", "sorts between dir/ entries and dir/sub?\n")
        try repo.write("run.sh", "#!/bin/sh\n", executable: true)
        try repo.symlink("link", to: "a.txt")
        let first = try await repo.commit("first")
        try repo.write("a.txt", "a\nmore\n")
        let second = try await repo.commit("second")
        return (repo, first, second)
    }

    @Test("a git process killed between requests is replaced, and the next request succeeds")
    func restartsAfterCrash() async throws {
        let root = try FixtureRoot()
        let (_, first, second) = try await Self.repository(root)
        let pool = try root.pool()
        defer { pool.close() }
        let service = DiffService(repositories: pool)
        let before = try await service.compute(repository: "r", base: first, head: second)
        let repository = try pool.repository("r")
        let catFile = try #require(repository.objectProcessID)
        let diffTree = try #require(repository.diffProcessIDs.first)
        kill(catFile, SIGKILL)
        kill(diffTree, SIGKILL)
        let after = try await service.compute(repository: "r", base: first, head: second)
        #expect(after == before)
        #expect(repository.objectProcessID != catFile)
        #expect(repository.objectProcessStarts == 2)
    }

    @Test("a git that does not answer is killed at the time limit with a retryable error; one that dies says why")
    func hangsAndCrashes() async throws {
        let root = try FixtureRoot()
        _ = try await Self.repository(root)
        let hanging = root.path + "/hanging-git"
        // Never answers, as a git stuck on a slow disk would.
        try await writeExecutable(hanging, "#!/bin/sh\nexec sleep 600\n")
        let dying = root.path + "/dying-git"
        try await writeExecutable(dying, "#!/bin/sh\necho 'fatal: out of memory, malloc failed' >&2\nexit 128\n")

        let slow = RepositoryPool(root: try RepositoryRoot(root.path), environment: try GitEnvironment(executable: hanging), timeout: 0.5)
        defer { slow.close() }
        do {
            _ = try await DiffService(repositories: slow).compute(repository: "r", base: "HEAD~1", head: "HEAD")
            Issue.record("a git that never answers did not time out")
        } catch let error as RepositoryError {
            #expect(error.code == .timedOut, "\(error)")
            #expect(!error.isPermanent)
            #expect(RepositoryJobs.retry.retryOn(error))
        }
        #expect(try slow.repository("r").objectProcessID == nil, "the stuck process was not stopped")

        let broken = RepositoryPool(root: try RepositoryRoot(root.path), environment: try GitEnvironment(executable: dying), timeout: 30)
        defer { broken.close() }
        do {
            _ = try await DiffService(repositories: broken).compute(repository: "r", base: "HEAD~1", head: "HEAD")
            Issue.record("a git that dies did not fail the request")
        } catch let error as RepositoryError {
            #expect(error.code == .gitFailed, "\(error)")
            #expect(error.message.contains("out of memory"), "\(error.message)")
        }
    }

    @Test("a cancelled request stops its git process and ends at once")
    func cancellation() async throws {
        let root = try FixtureRoot()
        _ = try await Self.repository(root)
        let hanging = root.path + "/hanging-git"
        try await writeExecutable(hanging, "#!/bin/sh\nexec sleep 600\n")
        let pool = RepositoryPool(root: try RepositoryRoot(root.path), environment: try GitEnvironment(executable: hanging), timeout: hangGuard)
        defer { pool.close() }
        let repository = try pool.repository("r")
        let request = Task { try await repository.resolveCommit("HEAD", role: "head") }
        // Cancel once the request is in git's hands (its process exists).
        try await eventually(timeout: hangGuard, "git started") { repository.objectProcessID != nil }
        let pid = try #require(repository.objectProcessID)
        request.cancel()
        await #expect(throws: CancellationError.self) { _ = try await request.value }
        // The stuck git was killed and reaped, not left behind.
        #expect(repository.objectProcessID == nil)
        #expect(kill(pid, 0) != 0)
    }

    @Test("listTree equals git ls-tree -r, and read returns each blob's bytes under a byte cap")
    func treesAndBlobs() async throws {
        let root = try FixtureRoot()
        let (repo, _, second) = try await Self.repository(root)
        let pool = try root.pool()
        defer { pool.close() }
        let repository = try pool.repository("r")
        let entries = try await repository.objects.listTree(second)
        let listed = entries.map { "\($0.mode) \($0.type) \($0.id)\t\($0.pathText)" }
        let expected = try await GitCommand.text(["ls-tree", "-r", second], in: repo.directory).split(separator: "\n").map {
            // ls-tree pads tree modes to six digits; tree objects store "40000".
            String($0)
        }
        #expect(listed == expected)
        var contents: [String: [UInt8]] = [:]
        let blobs = entries.filter { $0.type == "blob" }
        try await repository.objects.read(blobs.map(\.id), maxBytesInFlight: 4) { info, bytes in
            contents[info.id] = Array(bytes)
        }
        for blob in blobs {
            let bytes = try await GitCommand.run(["cat-file", "blob", blob.id], in: repo.directory)
            #expect(contents[blob.id] == bytes, "\(blob.pathText)")
        }
        let nonRecursive = try await repository.objects.listTree(second, recursive: false)
        #expect(nonRecursive.contains { $0.pathText == "dir" && $0.type == "tree" })
    }
}

