import Redis

extension KeyValueStore {
    /// Compare-and-set that only the newest holder of a lock can do: replaces the value of
    /// `key` with `value` if it is `expected` now (nil: only if it has none) *and* `lease`'s
    /// fencing token is still the newest one handed out for its lock, in one step on the server.
    ///
    /// This is the fence for state that a leader advances (a scheduler's "last fired"): a
    /// holder paused past its lease, whose lock someone else has taken since, is refused even
    /// though its own process still believes it leads. A holder whose lease ran out while no
    /// one took the lock keeps its token as the newest and may still write (no one else could
    /// have).
    /// - Parameters:
    ///   - key: the key (1 to 512 bytes of UTF-8).
    ///   - expected: the value it must hold now (byte for byte), or nil for none.
    ///   - value: the new value (at most `maxValueBytes`).
    ///   - lease: the lock lease whose token fences the write.
    ///   - ttl: the new value's time to live, 1 ms to 30 days; nil keeps it until deleted.
    /// - Returns: whether it was replaced (false: the current value differed from `expected`).
    /// - Throws: `LockError.Code.staleToken` when a newer token was handed out for the lock;
    ///   `ConveyorError.Code.invalidArguments` for a bad key, value or ttl; `backendUnavailable`.
    @discardableResult
    public func compareAndSet(_ key: String, expected: [UInt8]?, _ value: [UInt8], fencedBy lease: LockLease,
                              ttl: Duration? = nil) async throws -> Bool {
        let milliseconds = try ttl.map { try CoordinationInput.milliseconds($0, "time to live") } ?? 0
        try Self.check(value)
        let reply = try await call(key) {
            try await redis.evaluate(Scripts.compareAndSet, keys: [$0, Keys.lockToken(lease.name)],
                                     arguments: [expected == nil ? "0" : "1", expected ?? [], value, milliseconds, lease.token],
                                     timeout: timeout)
        }
        switch reply.integer {
        case 1: return true
        case 0: return false
        default:
            throw LockError(.staleToken, name: lease.name,
                            "\(key) refused token \(lease.token) of lock \(lease.name): a newer holder took the lock since")
        }
    }
}
