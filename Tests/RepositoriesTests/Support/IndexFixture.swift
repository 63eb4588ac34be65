import Foundation
@testable import Repositories
import TestSupport

/// A repositories root, an index directory and the index service over both, for one test.
final class IndexFixture: Sendable {
    let root: FixtureRoot
    let indexDirectory: String
    let pool: RepositoryPool
    let index: SearchIndex

    init(root: FixtureRoot? = nil) throws {
        self.root = try root ?? FixtureRoot()
        indexDirectory = FileManager.default.temporaryDirectory.appendingPathComponent("conveyor-index-\(UUID().uuidString)").path
        pool = try self.root.pool()
        index = SearchIndex(store: try IndexStore(directory: indexDirectory), repositories: pool)
    }

    deinit {
        pool.close()
        try? FileManager.default.removeItem(atPath: indexDirectory)
    }

    var store: IndexStore { index.store }

    func service(_ options: IndexOptions = IndexOptions(), beforePublish: (@Sendable (String) throws -> Void)? = nil) -> IndexService {
        IndexService(index: index, options: options, beforePublish: beforePublish)
    }

    /// The snapshot published for `repository` (fails the test through a throw when there is none).
    func snapshot(_ repository: String) throws -> IndexedSnapshot {
        guard let snapshot = try index.indexedSnapshot(repository: repository) else {
            throw GitCommand.Failed(description: "\(repository) has no published index")
        }
        return snapshot
    }
}

/// The folded trigrams of `bytes`, the reference the index is checked against.
func trigrams(of bytes: [UInt8]) -> Set<UInt32> {
    guard bytes.count >= 3 else { return [] }
    var result = Set<UInt32>()
    for index in 2..<bytes.count { result.insert(Trigram(bytes[index - 2], bytes[index - 1], bytes[index]).value) }
    return result
}

/// Whether a file holding `present` satisfies `query`, by the definition of each case.
func satisfies(_ query: TrigramQuery, _ present: Set<UInt32>) -> Bool {
    switch query {
    case .all: true
    case .none: false
    case let .trigram(trigram): present.contains(trigram.value)
    case let .and(parts): parts.allSatisfy { satisfies($0, present) }
    case let .or(parts): parts.contains { satisfies($0, present) }
    }
}

/// What `candidates` must return: every too-large file, the text files that satisfy `query`.
/// - Parameter present: each file's trigrams (`trigrams(of:)` of its content).
func bruteForceCandidates(_ query: TrigramQuery, files: [SnapshotFile], present: [Set<UInt32>]) -> [Int] {
    files.indices.filter { index in
        switch files[index].kind {
        case .binary: false
        case .tooLarge: true
        case .text: satisfies(query, present[index])
        }
    }
}


/// Random trigram queries: mostly trigrams drawn from `pool` (so they match something), some
/// random ones, nested in `and`/`or` up to `depth`.
func randomQuery(_ pool: [UInt32], depth: Int, using generator: inout SeededGenerator) -> TrigramQuery {
    let roll = Int.random(in: 0..<10, using: &generator)
    if depth == 0 || roll < 4 {
        if roll == 0 { return .trigram(Trigram(packed: UInt32.random(in: 0...0xFF_FFFF, using: &generator))) }
        return .trigram(Trigram(packed: pool.randomElement(using: &generator) ?? 0))
    }
    let parts = (0..<Int.random(in: 1...3, using: &generator)).map { _ in randomQuery(pool, depth: depth - 1, using: &generator) }
    switch roll {
    case 4...6: return .and(parts + (roll == 6 ? [.all] : []))
    case 7...8: return .or(parts)
    default: return .or(parts + [.none])
    }
}
