import Foundation
@testable import Repositories
import Testing
import TestSupport

/// An index over time: pushes and forks read only blobs no segment holds, merges keep the live
/// blobs and drop the rest, a crash before publishing leaves the old index, bad input fails for good.
@Suite("index lifecycle")
struct IndexLifecycleTests {
    /// A repository of `count` files with distinct contents, committed.
    static func project(_ fixture: IndexFixture, _ name: String, files count: Int) async throws -> FixtureRepository {
        let repository = try await fixture.root.makeRepository(name)
        for number in 0..<count { try repository.write("src/file\(number).swift", "let value\(number) = \(number)\n") }
        try repository.write("README.md", "# \(name)\n")
        try await repository.commit("initial")
        return repository
    }

    @Test("a re-index after a push reads only the changed blobs; the same commit again reads none; the snapshot follows")
    func incremental() async throws {
        let fixture = try IndexFixture()
        let repository = try await Self.project(fixture, "project", files: 30)
        let service = fixture.service()
        let first = try await service.index(repository: "project")
        #expect(first.newBlobs == 31 && first.reusedBlobs == 0)

        try repository.write("src/file1.swift", "let value1 = 100 // changed\n")
        try repository.write("src/file2.swift", "let value2 = 200 // changed\n")
        try repository.write("src/file3.swift", "let value3 = 300 // changed\n")
        try repository.write("src/added.swift", "let addedNeedle = true\n")
        try repository.remove("src/file4.swift")
        let head = try await repository.commit("a push")
        let progress = ProgressLog()
        let second = try await service.index(repository: "project") { done, total in progress.append(done, total) }
        #expect(second.newBlobs == 4, "three changed files and one added")
        #expect(second.reusedBlobs == 27)
        #expect(second.json["files"] == 31 && second.json["commit"] == .string(head))
        #expect(progress.reports.first.map { [$0.0, $0.1] } == [27, 31], "\(progress.reports)")
        #expect(progress.reports.last.map { [$0.0, $0.1] } == [31, 31], "\(progress.reports)")

        let snapshot = try fixture.snapshot("project")
        #expect(snapshot.commit == head)
        let needle = TrigramQuery.and([.trigram(Trigram(UInt8(ascii: "n"), UInt8(ascii: "e"), UInt8(ascii: "e"))),
                                       .trigram(Trigram(UInt8(ascii: "e"), UInt8(ascii: "d"), UInt8(ascii: "l")))])
        #expect(snapshot.candidates(needle).map { String(decoding: snapshot.files[$0].path, as: UTF8.self) } == ["src/added.swift"])

        let again = try await service.index(repository: "project")
        #expect(again.newBlobs == 0 && again.reusedBlobs == 31)
        #expect(try fixture.snapshot("project") === snapshot, "an unchanged manifest keeps the open snapshot")
    }

    @Test("a fork indexed after its parent reads only the blob the fork added")
    func fork() async throws {
        let fixture = try IndexFixture()
        let parent = try await Self.project(fixture, "parent", files: 40)
        try await GitCommand.run(["clone", "-q", parent.directory, fixture.root.path + "/fork"], in: fixture.root.path)
        let fork = FixtureRepository(directory: fixture.root.path + "/fork")
        try fork.write("FORK.md", "only in the fork\n")
        try await fork.commit("fork")
        let service = fixture.service()
        #expect(try await service.index(repository: "parent").newBlobs == 41)
        let forked = try await service.index(repository: "fork")
        #expect(forked.newBlobs == 1 && forked.reusedBlobs == 41)
        let snapshot = try fixture.snapshot("fork")
        #expect(snapshot.files.count == 42)
        #expect(snapshot.manifest.segments.count == 2, "the parent's segment and the fork's own")
        for index in snapshot.files.indices {
            let path = String(decoding: snapshot.files[index].path, as: UTF8.self)
            #expect(try await snapshot.content(index) == (try await GitCommand.run(["show", "HEAD:\(path)"], in: fork.directory)))
        }
    }

    @Test("past the segment limit the live blobs are merged into one segment and the dead ones dropped with the old segments")
    func merge() async throws {
        let fixture = try IndexFixture()
        let repository = try await Self.project(fixture, "churn", files: 5)
        let service = fixture.service(IndexOptions(maxSegments: 3))
        _ = try await service.index(repository: "churn")
        var segmentCounts: [Int] = []
        var deadBlobs: [String] = []
        for round in 1...4 {
            // Each round changes another file, so every delta segment keeps a live blob.
            let path = "src/file\(round - 1).swift"
            deadBlobs.append(try await GitCommand.text(["rev-parse", "HEAD:\(path)"], in: repository.directory))
            try repository.write(path, "let changed = \(round) // round \(round)\n")
            try await repository.commit("round \(round)")
            _ = try await service.index(repository: "churn")
            segmentCounts.append(try fixture.snapshot("churn").manifest.segments.count)
        }
        #expect(segmentCounts == [2, 3, 1, 2], "the fourth segment triggers a merge into one")
        let snapshot = try fixture.snapshot("churn")
        #expect(fixture.store.segmentNames() == snapshot.manifest.segments.sorted(), "segments no manifest names were deleted")
        let live = Set(snapshot.files.map(\.blob))
        let segments = try snapshot.manifest.segments.map { try fixture.store.segment($0) }
        for blob in live { #expect(segments.contains { $0.ordinal(of: blob) != nil }, "live blob \(blob) kept") }
        // The versions replaced before the merge; the one replaced after it is still in the merged segment.
        for blob in deadBlobs.prefix(3) {
            #expect(!segments.contains { $0.ordinal(of: blob) != nil }, "dead blob \(blob) dropped")
        }
        let contents = try await snapshot.files.indices.asyncMap { try await snapshot.content($0) }
        let present = contents.map(trigrams(of:))
        var generator = SeededGenerator(seed: 3)
        let pool = Array(present.reduce(into: Set<UInt32>()) { $0.formUnion($1) })
        for _ in 0..<100 {
            let query = randomQuery(pool, depth: 2, using: &generator)
            #expect(snapshot.candidates(query) == bruteForceCandidates(query, files: snapshot.files, present: present), "\(query)")
        }
    }

    @Test("a crash between writing the segment and publishing the manifest leaves the old index searchable; the orphan is collected")
    func crashBeforePublish() async throws {
        let fixture = try IndexFixture()
        let repository = try await Self.project(fixture, "crashy", files: 10)
        let old = try await fixture.service().index(repository: "crashy")
        try repository.write("src/new.swift", "let fresh = 1\n")
        try await repository.commit("new")
        struct Crash: Error {}
        let crashing = fixture.service(beforePublish: { _ in throw Crash() })
        await #expect(throws: Crash.self) { try await crashing.index(repository: "crashy") }

        let snapshot = try fixture.snapshot("crashy")
        #expect(snapshot.commit == old.manifest.commit)
        #expect(try await snapshot.content(0) == (try await GitCommand.run(["show", "HEAD~1:README.md"], in: repository.directory)))
        let orphans = Set(fixture.store.segmentNames()).subtracting(snapshot.manifest.segments)
        #expect(orphans.count == 1, "the segment written before the crash")
        #expect(Set(try fixture.store.collectGarbage()) == orphans)
        #expect(fixture.store.segmentNames() == snapshot.manifest.segments.sorted())

        let retried = try await fixture.service().index(repository: "crashy")
        #expect(retried.newBlobs == 1)
        #expect(try fixture.snapshot("crashy").commit != old.manifest.commit)
    }

    @Test("a segment another process collects while a run reuses it fails that run (to be retried) instead of publishing a manifest naming it")
    func segmentVanished() async throws {
        let fixture = try IndexFixture()
        let parent = try await Self.project(fixture, "parent", files: 5)
        let shared = try #require(try await fixture.service().index(repository: "parent").manifest.segments.first)
        try await GitCommand.run(["clone", "-q", parent.directory, fixture.root.path + "/fork"], in: fixture.root.path)
        let fork = FixtureRepository(directory: fixture.root.path + "/fork")
        try fork.write("FORK.md", "fork\n")
        try await fork.commit("fork")
        // As if the parent had been merged into a new segment and the old one collected meanwhile.
        let path = fixture.store.directory + "/segments/" + shared
        let collecting = fixture.service(beforePublish: { _ in try FileManager.default.removeItem(atPath: path) })
        do {
            _ = try await collecting.index(repository: "fork")
            Issue.record("published a manifest naming a deleted segment")
        } catch let error as IndexError {
            #expect(error.code == .fileSystem && error.message.contains(shared), "\(error)")
            #expect(RepositoryJobs.indexRetry.retryOn(error))
        }
        #expect(try fixture.store.manifest(for: "fork") == nil)
        // The retry reads the parent's six blobs again (their segment is gone) and finds the
        // fork's own in the segment the failed run left.
        let retried = try await fixture.service().index(repository: "fork")
        #expect(retried.newBlobs == 6 && retried.reusedBlobs == 1)
    }

    @Test("bad repository names and refs fail with permanent errors before anything is indexed")
    func badInputs() async throws {
        let fixture = try IndexFixture()
        _ = try await Self.project(fixture, "fine", files: 1)
        let service = fixture.service()
        let cases: [(String, String, RepositoryError.Code)] = [
            ("../fine", "HEAD", .invalidRepository), ("/etc", "HEAD", .invalidRepository), ("missing", "HEAD", .repositoryNotFound),
            ("fine", "--output=/tmp/x", .invalidRef), ("fine", "no-such-branch", .unknownRevision), ("fine", "a b", .invalidRef),
        ]
        for (name, ref, code) in cases {
            do {
                _ = try await service.index(repository: name, ref: ref)
                Issue.record("\(name) \(ref) was indexed")
            } catch let error as RepositoryError {
                #expect(error.code == code && error.isPermanent, "\(name) \(ref): \(error)")
            }
        }
        #expect(fixture.store.segmentNames().isEmpty)
        #expect(try fixture.index.snapshot(repository: "fine") == nil)
    }
}

/// Progress reports, in order.
final class ProgressLog: @unchecked Sendable {
    private let lock = NSLock()
    private var log: [(Int, Int)] = []
    func append(_ done: Int, _ total: Int) { lock.withLock { log.append((done, total)) } }
    var reports: [(Int, Int)] { lock.withLock { log } }
}

extension Sequence {
    func asyncMap<T>(_ transform: (Element) async throws -> T) async rethrows -> [T] {
        var result: [T] = []
        for element in self { result.append(try await transform(element)) }
        return result
    }
}
