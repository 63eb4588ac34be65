import Synchronization
import Foundation

/// Where computed diffs are kept, by key (repository, resolved base and head, options, limits).
///
/// The worker caches in the fleet's Redis (`KeyValueDiffCache`, over the task's key/value store); tests and a
/// worker without Redis use `MemoryDiffCache`. A cache that fails must not fail the diff: errors
/// are the caller's to log and ignore.
public protocol DiffCache: Sendable {
    /// The stored value, or nil.
    func value(for key: String) async throws -> [UInt8]?
    /// Stores a value that lives `ttl` seconds.
    func store(_ value: [UInt8], for key: String, ttl: Int) async throws
}

/// A bounded in-process cache (least recently stored goes first), with expiry.
public final class MemoryDiffCache: DiffCache {
    private struct Entry { var value: [UInt8]; var expires: Date }
    private let entries = Mutex<[String: Entry]>([:])
    private let order = Mutex<[String]>([])
    private let capacity: Int

    public init(capacity: Int = 256) { self.capacity = max(1, capacity) }

    public func value(for key: String) async throws -> [UInt8]? {
        entries.withLock { entries in
            guard let entry = entries[key] else { return nil }
            guard entry.expires > Date() else {
                entries[key] = nil
                return nil
            }
            return entry.value
        }
    }

    public func store(_ value: [UInt8], for key: String, ttl: Int) async throws {
        let expires = Date().addingTimeInterval(Double(max(1, ttl)))
        let dropped = order.withLock { order -> [String] in
            order.removeAll { $0 == key }
            order.append(key)
            guard order.count > capacity else { return [] }
            let dropped = Array(order.prefix(order.count - capacity))
            order.removeFirst(dropped.count)
            return dropped
        }
        entries.withLock { entries in
            entries[key] = Entry(value: value, expires: expires)
            for key in dropped { entries[key] = nil }
        }
    }
}
