import Conveyor
import Foundation
import Testing

/// `conveyor top`'s model: Celery events in, workers, running tasks and per-task counts over a
/// sliding minute out. Every event carries the time it arrived, so time is stepped, never waited.
@Suite("FleetActivity: events aggregated over a sliding window")
struct FleetActivityTests {
    /// A fixed origin, so every time below is a whole second plus the offset written.
    static let origin = 1_800_000_000.0

    func at(_ seconds: Double) -> Date { Date(timeIntervalSince1970: Self.origin + seconds) }

    func event(_ type: String, host: String = "w1@host", _ fields: JSONObject = [:]) -> CeleryEvent {
        var all: JSONObject = ["hostname": .string(host), "type": .string(type)]
        for (key, value) in fields { all[key] = value }
        return CeleryEvent(fields: all)
    }

    func received(_ id: String, _ name: String, host: String = "w1@host") -> CeleryEvent {
        event("task-received", host: host, ["uuid": .string(id), "name": .string(name)])
    }

    func counts(_ activity: FleetActivity, _ name: String, at seconds: Double) -> TaskCounts? {
        activity.snapshot(at: at(seconds)).tasks.first { $0.name == name }?.counts
    }

    @Test("counts stay while their second is inside the last minute and leave when it is not")
    func slidingWindow() {
        var activity = FleetActivity()
        for id in ["a", "b", "c"] { activity.apply(received(id, "tasks.add"), at: at(100.2)) }
        activity.apply(event("task-succeeded", ["uuid": "a", "runtime": 0.5]), at: at(101.9))
        activity.apply(event("task-succeeded", ["uuid": "b", "runtime": 1.5]), at: at(101.0))
        activity.apply(event("task-failed", ["uuid": "c", "exception": "ValueError('x')"]), at: at(130))

        let full = counts(activity, "tasks.add", at: 130)
        #expect(full?.received == 3)
        #expect(full?.succeeded == 2)
        #expect(full?.failed == 1)
        #expect(full?.retried == 0)
        #expect(full?.meanRuntime == 1.0)
        // Second 100 is inside the window ending at second 159 (100 > 159 - 60) and out of the next.
        #expect(counts(activity, "tasks.add", at: 159.99)?.received == 3)
        let later = counts(activity, "tasks.add", at: 160)
        #expect(later?.received == 0)
        #expect(later?.succeeded == 2)
        #expect(counts(activity, "tasks.add", at: 161)?.succeeded == 0)
        #expect(counts(activity, "tasks.add", at: 161)?.failed == 1)
        // Nothing left: the name is not listed at all.
        #expect(activity.snapshot(at: at(190)).tasks.isEmpty)
    }

    @Test("a bucket is reused a minute later: the old second's counts do not leak into the new one")
    func bucketReuse() {
        var activity = FleetActivity()
        activity.apply(received("a", "t"), at: at(10))
        activity.apply(received("b", "t"), at: at(70))
        #expect(counts(activity, "t", at: 70)?.received == 1)
        // An event older than the window, arriving late, is not counted.
        activity.apply(received("c", "t"), at: at(5))
        #expect(counts(activity, "t", at: 70)?.received == 1)
        // Two names are counted apart.
        activity.apply(received("d", "other"), at: at(70))
        #expect(counts(activity, "other", at: 70)?.received == 1)
        #expect(counts(activity, "t", at: 70)?.received == 1)
    }

    @Test("a started task runs until its end event, with its runtime so far; ends take the name from task-received")
    func runningTasks() {
        var activity = FleetActivity()
        activity.apply(received("a", "tasks.sleep"), at: at(10))
        activity.apply(event("task-started", ["uuid": "a"]), at: at(11))
        activity.apply(received("b", "tasks.add", host: "w2@host"), at: at(12))
        activity.apply(event("task-started", host: "w2@host", ["uuid": "b"]), at: at(12.5))
        // Received and never started: not running.
        activity.apply(received("c", "tasks.add"), at: at(13))

        let running = activity.snapshot(at: at(14.5)).running
        #expect(running.map(\.id) == ["a", "b"])
        #expect(running.map(\.name) == ["tasks.sleep", "tasks.add"])
        #expect(running.map(\.hostname) == ["w1@host", "w2@host"])
        #expect(running.map(\.runtime) == [3.5, 2.0])

        activity.apply(event("task-succeeded", ["uuid": "a", "runtime": 4.0]), at: at(15))
        activity.apply(event("task-revoked", host: "w2@host", ["uuid": "b", "terminated": true]), at: at(15))
        #expect(activity.snapshot(at: at(16)).running.isEmpty)
        #expect(counts(activity, "tasks.sleep", at: 16)?.succeeded == 1)
        // A success whose task-received was missed has no name to count under.
        activity.apply(event("task-succeeded", ["uuid": "unknown", "runtime": 1.0]), at: at(16))
        #expect(activity.snapshot(at: at(16)).tasks.map(\.name) == ["tasks.add", "tasks.sleep"])
    }

    @Test("a worker is online within two heartbeat intervals, lost after, offline when it says so, forgotten a minute later")
    func workerLiveness() {
        var activity = FleetActivity()
        activity.apply(event("worker-online", ["freq": 2.0, "sw_ident": "conveyor", "pid": 42, "active": 0, "processed": 0,
                                               "loadavg": [0.5, 0.25, 0.0]]), at: at(0))
        activity.apply(event("worker-heartbeat", host: "py@host", ["freq": 2.0, "sw_ident": "py-celery", "active": 1, "processed": 7]), at: at(0))
        var workers = activity.snapshot(at: at(4)).workers
        #expect(workers.map(\.hostname) == ["py@host", "w1@host"])
        #expect(workers.map { $0.state(at: at(4)) } == [.online, .online])
        #expect(workers.map(\.isConveyor) == [false, true])
        #expect(workers.last?.pid == 42)
        #expect(workers.last?.loadAverage == [0.5, 0.25, 0.0])
        #expect(workers.first?.processed == 7)
        #expect(activity.snapshot(at: at(4.01)).workers.map(\.state) == [.lost, .lost])

        // A task event counts as a sign of life too.
        activity.apply(received("a", "t"), at: at(5))
        activity.apply(event("task-started", ["uuid": "a"]), at: at(5))
        #expect(activity.snapshot(at: at(6)).workers.map(\.state) == [.lost, .online])

        // Offline: its running task goes with it.
        activity.apply(event("worker-offline"), at: at(7))
        let snapshot = activity.snapshot(at: at(8))
        #expect(snapshot.workers.map(\.state) == [.lost, .offline])
        #expect(snapshot.running.isEmpty)
        workers = activity.snapshot(at: at(67)).workers
        #expect(workers.map(\.hostname) == ["w1@host"])
        #expect(activity.snapshot(at: at(67.01)).workers.isEmpty)
    }

    @Test("fields of the wrong type or out of range are ignored, events without a hostname or uuid dropped")
    func badFields() {
        var activity = FleetActivity()
        activity.apply(event("worker-heartbeat", ["freq": 5.0, "active": 3, "pid": 9]), at: at(0))
        activity.apply(event("worker-heartbeat", ["freq": -1.0, "active": -4, "pid": 0, "loadavg": [1.0], "processed": "many"]), at: at(1))
        let worker = activity.snapshot(at: at(1)).workers.first
        #expect(worker?.heartbeatInterval == 5.0)
        #expect(worker?.active == 3)
        #expect(worker?.pid == 9)
        #expect(worker?.loadAverage == nil)
        #expect(worker?.processed == nil)
        // Ten seconds (two intervals of 5 s) after the last beat it is still online.
        #expect(worker?.state(at: at(11)) == .online)

        activity.apply(CeleryEvent(fields: ["type": "task-received", "uuid": "x", "name": "t"]), at: at(2))
        activity.apply(event("task-received", ["name": "t"]), at: at(2))
        activity.apply(event("task-succeeded", ["uuid": "y", "name": "t", "runtime": .double(.infinity)]), at: at(2))
        let counts = self.counts(activity, "t", at: 2)
        #expect(counts?.received == 0)
        #expect(counts?.succeeded == 1)
        #expect(counts?.meanRuntime == nil)
    }

    @Test("memory is bounded: the oldest tracked task and new names past the limit give way")
    func limits() {
        var limits = FleetActivity.Limits()
        limits.tasks = 2
        limits.taskNames = 1
        var activity = FleetActivity(limits: limits)
        for (index, id) in ["a", "b", "c"].enumerated() {
            activity.apply(received(id, "t"), at: at(Double(index)))
            activity.apply(event("task-started", ["uuid": .string(id)]), at: at(Double(index)))
        }
        #expect(activity.snapshot(at: at(3)).running.map(\.id) == ["b", "c"])
        activity.apply(received("d", "other"), at: at(3))
        #expect(activity.snapshot(at: at(3)).tasks.map(\.name) == ["t"])
        // Once t's window is empty, the new name takes its place.
        activity.apply(received("e", "other"), at: at(70))
        #expect(activity.snapshot(at: at(70)).tasks.map(\.name) == ["other"])
    }

    @Test("a message body holds one event or a list of them (task.multi); anything else holds none")
    func decode() {
        #expect(CeleryEvent.decode(Array(#"{"type": "task-started", "uuid": "a", "hostname": "h"}"#.utf8)).map(\.type) == ["task-started"])
        let multi = CeleryEvent.decode(Array(#"[{"type": "task-received"}, 3, {"type": "task-started"}]"#.utf8))
        #expect(multi.map(\.type) == ["task-received", "task-started"])
        #expect(CeleryEvent.decode(Array("not json".utf8)).isEmpty)
        #expect(CeleryEvent.decode(Array("42".utf8)).isEmpty)
    }
}
