import Synchronization

/// Makes concurrent requests for the same diff in one process compute it once.
///
/// `LocalDiffFlight` joins callers inside one worker; across the fleet, `DiffService` runs the
/// one computation under the diff's lock (`Locks`) and re-reads the cache once it holds it.
public protocol DiffFlight: Sendable {
    /// Runs `body` for `key`, or waits for the run already under way for the same key and returns its value.
    func run(key: String, _ body: @escaping @Sendable () async throws -> [UInt8]) async throws -> [UInt8]
}

/// Single flight within this process.
public final class LocalDiffFlight: DiffFlight {
    private let inFlight = Mutex<[String: Task<[UInt8], Error>]>([:])
    /// Callers that joined a run already under way (tests watch it).
    let joined = Atomic<Int>(0)

    public init() {}

    public func run(key: String, _ body: @escaping @Sendable () async throws -> [UInt8]) async throws -> [UInt8] {
        let task = inFlight.withLock { inFlight -> Task<[UInt8], Error> in
            if let running = inFlight[key] {
                joined.add(1, ordering: .relaxed)
                return running
            }
            let task = Task { try await body() }
            inFlight[key] = task
            return task
        }
        // Only this run's entry goes: a later run for the key may have taken its place.
        defer { inFlight.withLock { if $0[key] == task { $0[key] = nil } } }
        return try await task.value
    }
}
