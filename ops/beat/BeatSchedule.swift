import Foundation

/// A schedule: its entries and how its instances coordinate.
public struct BeatSchedule: Sendable {
    /// The schedule's name (instances with the same name on the same Redis share one leader
    /// and one record of runs): 1 to 128 of `A-Z a-z 0-9 . _ -`.
    public let name: String
    /// The leader lease: how long a dead leader keeps the lead before another instance takes
    /// it over, which bounds how late a run can be after a failover.
    public let lease: Duration
    /// The most missed runs an entry with `catch_up: all` fires at once.
    public let maxCatchUp: Int
    /// The entries, in the file's order, with unique names.
    public let entries: [BeatEntry]

    /// Leases of 1 s to 1 hour (seconds in the file).
    public static let leaseSeconds: ClosedRange<Double> = 1...3600
    /// The lease when the file names none.
    public static let defaultLeaseSeconds: Double = 10
    /// `max_catch_up` may be 1 to 10 000.
    public static let maxCatchUpRange: ClosedRange<Int> = 1...10_000
    /// `max_catch_up` when the file names none.
    public static let defaultMaxCatchUp = 100

    /// - Throws: `ScheduleError` for a bad name, lease, bound, or duplicate entry names.
    public init(name: String = "default", lease: Duration = .seconds(10), maxCatchUp: Int = 100, entries: [BeatEntry]) throws {
        guard BeatEntry.isValidName(name) else { throw ScheduleError(line: 0, "schedule name '\(name)' must be 1 to 128 of A-Z a-z 0-9 . _ -") }
        let seconds = Double(lease.components.seconds) + Double(lease.components.attoseconds) / 1e18
        guard Self.leaseSeconds.contains(seconds) else { throw ScheduleError(line: 0, "lease must be 1 to 3600 s, not \(lease)") }
        guard Self.maxCatchUpRange.contains(maxCatchUp) else { throw ScheduleError(line: 0, "max_catch_up must be 1 to 10000, not \(maxCatchUp)") }
        var seen = Set<String>()
        for entry in entries {
            guard BeatEntry.isValidName(entry.name) else {
                throw ScheduleError(line: entry.line, "entry name '\(entry.name)' must be 1 to 128 of A-Z a-z 0-9 . _ -")
            }
            guard seen.insert(entry.name).inserted else { throw ScheduleError(line: entry.line, "entry '\(entry.name)' appears twice") }
        }
        self.name = name
        self.lease = lease
        self.maxCatchUp = maxCatchUp
        self.entries = entries
    }

    /// The entry named `name`.
    public func entry(_ name: String) -> BeatEntry? { entries.first { $0.name == name } }

    /// The lease in milliseconds.
    var leaseMilliseconds: Int64 { lease.components.seconds * 1000 + lease.components.attoseconds / 1_000_000_000_000_000 }

    /// Reads and checks a schedule file (YAML).
    /// - Throws: `ScheduleError` with the line and the reason.
    public static func load(path: String) throws -> BeatSchedule {
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: path))
        } catch {
            throw ScheduleError(line: 0, "cannot read \(path): \(error.localizedDescription)")
        }
        guard data.count <= 4 << 20 else { throw ScheduleError(line: 0, "\(path) is larger than 4 MiB") }
        guard let text = String(data: data, encoding: .utf8) else { throw ScheduleError(line: 0, "\(path) is not UTF-8") }
        return try ScheduleFile.parse(text)
    }
}

/// A schedule that cannot be used: the line of the file (0 when none applies) and why.
public struct ScheduleError: Error, Sendable, CustomStringConvertible {
    /// The line of the file (1 is the first), 0 when no line applies.
    public let line: Int
    /// Why it was refused.
    public let reason: String

    /// - Parameters:
    ///   - line: the line, 0 for none.
    ///   - reason: why.
    public init(line: Int, _ reason: String) {
        self.line = line
        self.reason = reason
    }

    public var description: String { line > 0 ? "line \(line): \(reason)" : reason }
}
