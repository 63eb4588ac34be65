@testable import Beat
import Conveyor
import Foundation
import Synchronization
import TestSupport

/// A publisher that records the task ids it was asked to send (shared by several scheduler
/// instances, each sending under its own name), or refuses them as a broker that is down would.
final class RecordingPublisher: Sendable {
    private let sent = Mutex<[(instance: String, taskId: String)]>([])

    /// The publisher of one instance; `failing` refuses every send.
    func instance(_ name: String, failing: Bool = false) -> any BeatPublisher { Instance(name: name, failing: failing, recorder: self) }

    var taskIds: [String] { sent.withLock { $0.map(\.taskId) } }
    func taskIds(of instance: String) -> [String] { sent.withLock { $0.filter { $0.instance == instance }.map(\.taskId) } }

    private struct Instance: BeatPublisher {
        let name: String
        let failing: Bool
        let recorder: RecordingPublisher

        func publish(_ entry: BeatEntry, taskId: String) async throws {
            if failing { throw ConveyorError(.brokerUnavailable, "test broker down") }
            recorder.sent.withLock { $0.append((name, taskId)) }
        }
    }
}

/// A schedule under a name no other test uses.
func uniqueSchedule(_ label: String, lease: Duration = .seconds(30), maxCatchUp: Int = 100, _ entries: [BeatEntry]) throws -> BeatSchedule {
    try BeatSchedule(name: "test-\(TestEnvironment.run)-\(label)-\(UUID().uuidString.prefix(8).lowercased())", lease: lease,
                     maxCatchUp: maxCatchUp, entries: entries)
}

/// Milliseconds since 1970 as a date.
func at(_ milliseconds: Int64) -> Date { Date(timeIntervalSince1970: Double(milliseconds) / 1000) }

/// A start time on a whole minute, so cron due times fall at known offsets.
let clockStart: Int64 = 1_796_478_000_000

/// Deletes a test schedule's records (they have no expiry, as a schedule's must not).
func deleteRecords(_ schedule: BeatSchedule, client: ConveyorClient) async throws {
    for entry in schedule.entries { try await client.keyValues.delete(BeatRecord.key(schedule: schedule.name, entry: entry.name)) }
}
