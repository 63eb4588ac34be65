import Conveyor

/// The diff cache in the fleet's Redis, through the Conveyor library's key/value store (keys
/// `conveyor:kv:diffs:v2:…`), so every worker answers a diff any worker computed.
public struct KeyValueDiffCache: DiffCache {
    /// The longest a cached diff lives: the store's own bound (30 days).
    public static let maxTTL = 2_592_000

    private let store: KeyValueStore

    public init(store: KeyValueStore) { self.store = store }

    public func value(for key: String) async throws -> [UInt8]? { try await store.get(key) }

    public func store(_ value: [UInt8], for key: String, ttl: Int) async throws {
        try await store.set(key, value, ttl: .seconds(min(max(1, ttl), Self.maxTTL)))
    }
}
