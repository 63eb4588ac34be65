@testable import Beat
@testable import Conveyor
import Foundation
import Redis
import Testing
import TestSupport

@Suite("Beat: each due time sent exactly once by any number of instances")
struct BeatSchedulerTests {
    private func instances(_ count: Int, _ schedule: BeatSchedule, _ recorder: RecordingPublisher, client: ConveyorClient) -> [BeatScheduler] {
        (0..<count).map { BeatScheduler(schedule: schedule, client: client, publisher: recorder.instance("i\($0)"), holder: "i\($0)") }
    }

    private func expectedIds(_ schedule: BeatSchedule, _ entry: String, _ dues: [Int64]) -> [String] {
        dues.map { "beat:\(schedule.name):\(entry):\($0)" }
    }

    @Test("four instances ticking together on a stepped clock, the leader handing over every 5 s, send every run once")
    func contention() async throws {
        try TestEnvironment.requireServices()
        let client = try testClient(queue: TestEnvironment.uniqueQueue("beat"))
        let schedule = try uniqueSchedule("contention", [
            BeatEntry(name: "second", task: "conveyor.echo", trigger: .every(milliseconds: 1000), catchUp: .all),
            BeatEntry(name: "minute", task: "conveyor.echo", trigger: .cron(try Crontab("* * * * *")), catchUp: .all),
        ])
        let recorder = RecordingPublisher()
        let beats = instances(4, schedule, recorder, client: client)
        var handovers = 0
        for step in 0...240 {
            let now = at(clockStart + Int64(step) * 500)
            await withTaskGroup(of: Void.self) { group in
                for beat in beats { group.addTask { await beat.tick(now: now) } }
            }
            var leaders = 0
            for beat in beats where await beat.isLeader { leaders += 1 }
            #expect(leaders == 1, "step \(step)")
            if step % 10 == 9 {
                // The leader steps down and the next instance in turn takes over at once (the
                // others find the lease taken on their next tick).
                for (index, beat) in beats.enumerated() where await beat.isLeader {
                    await beat.resign()
                    await beats[(index + 1) % beats.count].tick(now: now)
                    handovers += 1
                    break
                }
            }
        }
        let ids = recorder.taskIds
        #expect(Set(ids).count == ids.count, "a run was sent twice")
        #expect(Set(ids) == Set(expectedIds(schedule, "second", (1...120).map { clockStart + $0 * 1000 })
                                + expectedIds(schedule, "minute", [clockStart + 60_000, clockStart + 120_000])))
        let senders = Set((0..<4).filter { !recorder.taskIds(of: "i\($0)").isEmpty })
        #expect(senders.count == 4 && handovers == 24, "the lead did not go round: \(senders)")
        try await deleteRecords(schedule, client: client)
        await client.close()
    }

    @Test("a leader whose lock was taken over while it did not notice is refused by the fence and sends nothing")
    func staleLeader() async throws {
        try TestEnvironment.requireServices()
        let client = try testClient(queue: TestEnvironment.uniqueQueue("beat"))
        let schedule = try uniqueSchedule("stale", lease: .seconds(600), [BeatEntry(name: "tick", task: "conveyor.echo", trigger: .every(milliseconds: 1000), catchUp: .all)])
        let recorder = RecordingPublisher()
        let beats = instances(2, schedule, recorder, client: client)
        await beats[0].tick(now: at(clockStart))
        let oldToken = try #require(await beats[0].leaderToken)
        // The lease ends in Redis (as it would while the leader is frozen); the other instance takes it.
        _ = try await client.redis.send("DEL", "conveyor:lock:beat:\(schedule.name)")
        await beats[1].tick(now: at(clockStart))
        let newToken = try #require(await beats[1].leaderToken)
        #expect(newToken > oldToken)
        #expect(await beats[0].isLeader, "the old leader has not noticed yet")
        await beats[0].tick(now: at(clockStart + 3000))
        #expect(await !beats[0].isLeader)
        #expect(recorder.taskIds(of: "i0").isEmpty)
        await beats[1].tick(now: at(clockStart + 3000))
        #expect(recorder.taskIds(of: "i1") == expectedIds(schedule, "tick", [clockStart + 1000, clockStart + 2000, clockStart + 3000]))
        await beats[1].resign()
        try await deleteRecords(schedule, client: client)
        await client.close()
    }

    @Test("a run claimed by a leader that could not send it is sent by the next leader, with the same task id")
    func claimedNotSent() async throws {
        try TestEnvironment.requireServices()
        let client = try testClient(queue: TestEnvironment.uniqueQueue("beat"))
        let schedule = try uniqueSchedule("unsent", [BeatEntry(name: "tick", task: "conveyor.echo", trigger: .every(milliseconds: 1000), catchUp: .one)])
        let recorder = RecordingPublisher()
        let failing = BeatScheduler(schedule: schedule, client: client, publisher: recorder.instance("down", failing: true), holder: "down")
        let healthy = BeatScheduler(schedule: schedule, client: client, publisher: recorder.instance("up"), holder: "up")
        await failing.tick(now: at(clockStart))
        await failing.tick(now: at(clockStart + 1000))
        var status = try await BeatStatus.read(schedule, client: client)
        #expect(status.entries.first?.last == at(clockStart + 1000) && status.entries.first?.lastSent == false)
        await failing.resign()
        await healthy.tick(now: at(clockStart + 1500))
        #expect(recorder.taskIds == expectedIds(schedule, "tick", [clockStart + 1000]))
        status = try await BeatStatus.read(schedule, client: client)
        #expect(status.entries.first?.lastSent == true)
        #expect(status.leader?.holder == "up")
        await healthy.resign()
        try await deleteRecords(schedule, client: client)
        await client.close()
    }

    @Test("a claimed run whose message a worker already picked up (a state is stored) is marked sent, not sent again")
    func claimedAndDelivered() async throws {
        try TestEnvironment.requireServices()
        let client = try testClient(queue: TestEnvironment.uniqueQueue("beat"))
        let schedule = try uniqueSchedule("delivered", [BeatEntry(name: "tick", task: "conveyor.echo", trigger: .every(milliseconds: 1000))])
        let recorder = RecordingPublisher()
        let failing = BeatScheduler(schedule: schedule, client: client, publisher: recorder.instance("down", failing: true), holder: "down")
        await failing.tick(now: at(clockStart))
        await failing.tick(now: at(clockStart + 1000))
        await failing.resign()
        // As if the publish had reached the broker before the leader died, and a worker started it.
        let taskId = "beat:\(schedule.name):tick:\(clockStart + 1000)"
        _ = try await client.redis.send("SET", "celery-task-meta-\(taskId)", #"{"status": "STARTED", "result": null, "task_id": "\#(taskId)"}"#, "EX", 600)
        let next = BeatScheduler(schedule: schedule, client: client, publisher: recorder.instance("up"), holder: "up")
        await next.tick(now: at(clockStart + 1500))
        #expect(recorder.taskIds.isEmpty)
        #expect(try await BeatStatus.read(schedule, client: client).entries.first?.lastSent == true)
        await next.tick(now: at(clockStart + 2000))
        #expect(recorder.taskIds == expectedIds(schedule, "tick", [clockStart + 2000]))
        await next.resign()
        _ = try await client.redis.send("DEL", "celery-task-meta-\(taskId)")
        try await deleteRecords(schedule, client: client)
        await client.close()
    }

    @Test("after a full outage: catch_up all sends each missed run, one the newest, none nothing older than the lease")
    func outage() async throws {
        try TestEnvironment.requireServices()
        let client = try testClient(queue: TestEnvironment.uniqueQueue("beat"))
        let entries = BeatEntry.CatchUp.allCases.map {
            BeatEntry(name: $0.rawValue, task: "conveyor.echo", trigger: .every(milliseconds: 60_000), catchUp: $0)
        }
        // The default 30 s lease is the grace of catch_up none (a shorter one could lapse on a loaded machine).
        let schedule = try uniqueSchedule("outage", entries)
        let recorder = RecordingPublisher()
        let first = BeatScheduler(schedule: schedule, client: client, publisher: recorder.instance("first"), holder: "first")
        await first.tick(now: at(clockStart))
        await first.resign()
        let later = BeatScheduler(schedule: schedule, client: client, publisher: recorder.instance("later"), holder: "later")
        await later.tick(now: at(clockStart + 215_000))
        #expect(Set(recorder.taskIds) == Set(expectedIds(schedule, "all", [clockStart + 60_000, clockStart + 120_000, clockStart + 180_000])
                                                + expectedIds(schedule, "one", [clockStart + 180_000])))
        let status = try await BeatStatus.read(schedule, client: client)
        #expect(status.entries.map(\.last) == [at(clockStart + 180_000), at(clockStart + 180_000), at(clockStart + 180_000)])
        #expect(status.entries.map(\.next) == [at(clockStart + 240_000), at(clockStart + 240_000), at(clockStart + 240_000)])
        await later.resign()
        try await deleteRecords(schedule, client: client)
        await client.close()
    }

    @Test("run-now sends one run through the broker with a new id and leaves the schedule as it was")
    func runNow() async throws {
        try TestEnvironment.requireServices()
        let queue = TestEnvironment.uniqueQueue("beat-now")
        let client = try testClient(queue: queue)
        let worker = try await TestWorker(queue: queue)
        let entry = BeatEntry(name: "echo", task: "conveyor.echo", args: [7], options: TaskOptions(queue: queue),
                              trigger: .every(milliseconds: 3_600_000))
        let schedule = try uniqueSchedule("now", [entry])
        let recorder = RecordingPublisher()
        let beat = BeatScheduler(schedule: schedule, client: client, publisher: recorder.instance("beat"), holder: "beat")
        await beat.tick(now: at(clockStart))
        let before = try await BeatStatus.read(schedule, client: client)
        let id = try await BeatStatus.runNow(entry, schedule: schedule, publisher: ClientPublisher(client: client))
        let result = try await client.wait(for: id, timeout: hangGuard)
        #expect(result.state == .success)
        #expect(result.value["args"] == [7])
        let after = try await BeatStatus.read(schedule, client: client)
        #expect(after.entries.map(\.last) == before.entries.map(\.last))
        #expect(recorder.taskIds.isEmpty)
        #expect(id.hasPrefix("beat:\(schedule.name):echo:now-"))
        await beat.resign()
        try await worker.stop()
        try await deleteRecords(schedule, client: client)
        await client.close()
    }
}
