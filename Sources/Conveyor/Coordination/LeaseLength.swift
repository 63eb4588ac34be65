/// Lease lengths and coordination key names, checked where they enter.
enum CoordinationInput {
    /// The longest lease: 30 days. Longer is surely a unit mistake, and would keep a dead
    /// holder's lock for longer than anyone would wait.
    static let maxLeaseSeconds: Int64 = 30 * 86_400
    /// The longest lock, cap or unique key, in UTF-8 bytes.
    static let maxKeyBytes = 512

    /// A lease as whole milliseconds: 1 ms up to `maxLeaseSeconds`.
    /// - Throws: `ConveyorError.Code.invalidArguments` naming `what` and the value.
    static func milliseconds(_ lease: Duration, _ what: String) throws -> Int64 {
        let (seconds, attoseconds) = lease.components
        // Checked before any arithmetic, so no value of `lease` can overflow it.
        guard seconds >= 0, seconds <= maxLeaseSeconds, attoseconds >= 0 else {
            throw ConveyorError(.invalidArguments, "\(what) must be above 0 and at most \(maxLeaseSeconds) s (30 days), not \(lease)")
        }
        let milliseconds = seconds * 1000 + attoseconds / 1_000_000_000_000_000
        guard milliseconds >= 1, seconds < maxLeaseSeconds || attoseconds == 0 else {
            throw ConveyorError(.invalidArguments, "\(what) must be at least 1 ms and at most \(maxLeaseSeconds) s (30 days), not \(lease)")
        }
        return milliseconds
    }

    /// A lease given as seconds (the CLI, configuration): finite, above 0, at most 30 days.
    /// - Throws: `ConveyorError.Code.invalidArguments` naming `what` and the value.
    static func lease(seconds: Double, _ what: String) throws -> Duration {
        guard seconds.isFinite, seconds >= 0.001, seconds <= Double(maxLeaseSeconds) else {
            throw ConveyorError(.invalidArguments, "\(what) must be a finite number of seconds in 0.001...\(maxLeaseSeconds), not \(seconds)")
        }
        return .milliseconds(Int64((seconds * 1000).rounded()))
    }

    /// A lock name, cap key or unique key: not empty, at most `maxKeyBytes` bytes of UTF-8.
    /// - Throws: `ConveyorError.Code.invalidArguments` naming `what`.
    static func key(_ key: String, _ what: String) throws -> String {
        guard !key.isEmpty else { throw ConveyorError(.invalidArguments, "\(what) must not be empty") }
        guard key.utf8.count <= maxKeyBytes else {
            throw ConveyorError(.invalidArguments, "\(what) must be at most \(maxKeyBytes) bytes of UTF-8, not \(key.utf8.count)")
        }
        return key
    }
}
