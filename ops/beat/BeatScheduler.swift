import Conveyor
import Foundation
import Logging

/// One instance of `conveyor beat`: any number may run against the same Redis and broker;
/// the one holding the schedule's leader lease sends the runs, each due time exactly once.
///
/// Driven by `tick(now:)`, which takes the time as an argument (the daemon passes the clock,
/// tests step it): it takes the lease when free, sends what is due, and returns when to tick
/// next. How the guarantee is kept is in `BeatRecord` and the README.
public actor BeatScheduler {
    /// The schedule in force (replaced by `reload`).
    public private(set) var schedule: BeatSchedule
    let client: ConveyorClient
    let publisher: any BeatPublisher
    let locks: Locks
    let logger: Logger
    private var lease: LockLease?

    /// - Parameters:
    ///   - schedule: the schedule to run.
    ///   - client: its Redis holds the lease and the records; the default publisher sends
    ///     through it.
    ///   - publisher: what sends the runs (default: `client`, confirmed).
    ///   - holder: this instance's name in the lease (default host name and process id).
    public init(schedule: BeatSchedule, client: ConveyorClient, publisher: (any BeatPublisher)? = nil, holder: String? = nil,
                logger: Logger = Logger(label: "conveyor.beat")) {
        self.schedule = schedule
        self.client = client
        self.publisher = publisher ?? ClientPublisher(client: client)
        locks = Locks(client: client, holder: holder)
        self.logger = logger
    }

    /// Whether this instance holds the lead now.
    public var isLeader: Bool { lease?.isHeld ?? false }

    /// The fencing token of the lead this instance holds.
    public var leaderToken: Int64? { lease?.isHeld == true ? lease?.token : nil }

    /// Puts `schedule` in force from the next tick. A schedule under another name first gives
    /// up the lead of the old one.
    public func reload(_ schedule: BeatSchedule) async {
        if schedule.name != self.schedule.name { await resign() }
        self.schedule = schedule
    }

    /// Gives up the lead (on SIGTERM, or when another instance is the newer leader), so
    /// another instance can take it without waiting out the lease.
    public func resign() async {
        guard let lease else { return }
        self.lease = nil
        do {
            try await lease.release()
        } catch {
            logger.warning("leader lease not released (it ends by itself)", metadata: ["error": "\(error)"])
        }
    }

    /// How often an instance that does not lead tries to take the lead: a fifth of the lease,
    /// so a dead leader is replaced within the lease and a fifth.
    var followerPoll: Double { Double(schedule.leaseMilliseconds) / 5000 }

    /// One pass: leads if it can, sends every run due by `now` (by the entries' catch-up
    /// policies), and returns when to tick next.
    @discardableResult
    public func tick(now: Date) async -> Date {
        let nowMs = Int64((now.timeIntervalSince1970 * 1000).rounded(.down))
        guard let lease = await lead() else { return now.addingTimeInterval(followerPoll) }
        var wake = now.addingTimeInterval(60)
        for entry in schedule.entries {
            do {
                if let next = try await advance(entry, now: nowMs, lease: lease) {
                    wake = min(wake, Date(timeIntervalSince1970: Double(next) / 1000))
                }
            } catch let error as LockError where error.code == .staleToken {
                logger.warning("another instance leads now: stepping down", metadata: ["token": "\(lease.token)"])
                await resign()
                return now.addingTimeInterval(followerPoll)
            } catch {
                // Redis or the broker unavailable: the entry's run stays claimed but unsent, and is
                // sent on a later tick (by this leader or the next).
                logger.error("entry not advanced", metadata: ["entry": "\(entry.name)", "error": "\(error)"])
                wake = min(wake, now.addingTimeInterval(1))
            }
        }
        return max(wake, now.addingTimeInterval(0.001))
    }

    /// The lease, held or newly taken; nil when another instance leads.
    private func lead() async -> LockLease? {
        if let lease, lease.isHeld { return lease }
        if lease != nil {
            logger.warning("leader lease lost")
            lease = nil
        }
        do {
            guard let taken = try await locks.tryAcquire(BeatRecord.lockName(schedule: schedule.name), lease: schedule.lease) else { return nil }
            logger.info("leading schedule", metadata: ["schedule": "\(schedule.name)", "token": "\(taken.token)"])
            lease = taken
            return taken
        } catch {
            logger.error("leader lease not taken", metadata: ["error": "\(error)"])
            return nil
        }
    }

    /// Brings one entry up to `now`; returns its next due time.
    private func advance(_ entry: BeatEntry, now: Int64, lease: LockLease) async throws -> Int64? {
        let store = client.keyValues
        let key = BeatRecord.key(schedule: schedule.name, entry: entry.name)
        guard let bytes = try await store.get(key) else {
            // First sighting: due times count from now; nothing is owed for the past.
            let record = BeatRecord(due: now, sent: true)
            guard try await store.compareAndSet(key, expected: nil, record.bytes, fencedBy: lease) else { return nil }
            return entry.next(after: now)
        }
        guard var record = BeatRecord(bytes) else {
            throw ScheduleError(line: entry.line, "entry \(entry.name): the record under \(key) is not a beat record; delete it to start afresh")
        }
        if !record.sent {
            // Claimed but not marked sent: by a leader that died or froze around the publish. If a
            // worker already holds a state for the run, its message got through: not sent again.
            let taskId = entry.taskId(schedule: schedule.name, due: record.due)
            if try await client.result(for: taskId).state != .pending {
                logger.info("already delivered", metadata: ["entry": "\(entry.name)", "task_id": "\(taskId)"])
                record = try await claim(entry, BeatRecord(due: record.due, sent: true), after: record, lease: lease)
            } else {
                record = try await send(entry, record, lease: lease)
            }
        }
        let plan = DuePlan(entry, last: record.due, now: now, grace: schedule.leaseMilliseconds, maxCatchUp: schedule.maxCatchUp)
        if plan.skipped > 0 {
            logger.warning("missed runs skipped", metadata: ["entry": "\(entry.name)", "skipped": "\(plan.skipped)",
                                                            "catch_up": "\(entry.catchUp.rawValue)"])
        }
        for due in plan.fire {
            record = try await claim(entry, BeatRecord(due: due, sent: false), after: record, lease: lease)
            record = try await send(entry, record, lease: lease)
        }
        if plan.fire.last != plan.newest, let newest = plan.newest {
            record = try await claim(entry, BeatRecord(due: newest, sent: true), after: record, lease: lease)
        }
        return entry.next(after: record.due)
    }

    /// Moves the entry's record from `previous` to `next`, fenced by the lease.
    private func claim(_ entry: BeatEntry, _ next: BeatRecord, after previous: BeatRecord, lease: LockLease) async throws -> BeatRecord {
        let key = BeatRecord.key(schedule: schedule.name, entry: entry.name)
        guard try await client.keyValues.compareAndSet(key, expected: previous.bytes, next.bytes, fencedBy: lease) else {
            // Only a newer leader writes records, and it is refused above: someone else wrote here.
            throw LockError(.staleToken, name: lease.name, "the record of \(entry.name) changed under the leader")
        }
        return next
    }

    /// Sends the run of a claimed record (confirmed), then marks it sent.
    private func send(_ entry: BeatEntry, _ record: BeatRecord, lease: LockLease) async throws -> BeatRecord {
        // Checked right before sending: a leader that was paused past its lease does not send a
        // run the next leader is about to send too.
        guard lease.isHeld else { throw LockError(.staleToken, name: lease.name, "the leader lease ran out before sending") }
        let taskId = entry.taskId(schedule: schedule.name, due: record.due)
        try await publisher.publish(entry, taskId: taskId)
        logger.info("sent", metadata: ["entry": "\(entry.name)", "task_id": "\(taskId)"])
        return try await claim(entry, BeatRecord(due: record.due, sent: true), after: record, lease: lease)
    }
}
