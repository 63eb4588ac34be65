import AMQP
import Foundation
import IOSupport
#if canImport(Glibc)
import Glibc
#endif

/// Celery's events (`celery/events/dispatcher.py`) as Python's worker sends them, on the
/// pidbox connection: `worker-online`, `worker-heartbeat` every `eventHeartbeat` seconds and
/// `worker-offline` always; `task-*` while task events are on (`--events`, `enable_events`).
extension Worker {
    /// Seconds between `worker-heartbeat` events (Celery's `freq`); monitors count a worker
    /// gone after twice this without one.
    static let eventHeartbeat = 2.0
    /// The longest a stopping worker waits for its `worker-offline` to be written, seconds.
    static let offlineWait = 1.0
    /// `sw_ident`, `sw_ver`, `sw_sys`: what software the worker is. Python's say `py-celery`.
    static let softwareInfo: JSONObject = ["sw_ident": "conveyor", "sw_ver": "1.0", "sw_sys": "Linux"]

    /// Starts answering pidbox requests and sending worker events.
    /// - Returns: the task that sends heartbeats; `stopRemoteControl` ends it.
    func startRemoteControl() -> Task<Void, Never> {
        Task {
            do {
                try await pidbox.start(timeout: .infinity) { [weak self] request in self?.answer(request) }
                remote.listening = true
                logger.info("remote control listening", metadata: ["mailbox": "\(pidbox.queue)"])
            } catch {
                logger.error("remote control unavailable: celery inspect and control cannot reach this worker",
                             metadata: ["reason": "\(error)"])
            }
            sendWorkerEvent("worker-online")
            while !Task.isCancelled {
                try? await Task.sleep(for: .sleeping(seconds: Self.eventHeartbeat))
                if Task.isCancelled { break }
                sendWorkerEvent("worker-heartbeat")
            }
        }
    }

    /// Stops the heartbeats and says `worker-offline`, waiting until it is written, but no
    /// longer than `offlineWait`: the process may exit or exec right after (the connection
    /// closes in `finish`), and a broker out of reach must not hold a shutdown.
    func stopRemoteControl(_ heartbeats: Task<Void, Never>) async {
        heartbeats.cancel()
        await heartbeats.value
        let race = FirstOutcome<Void, Never>()
        sendWorkerEvent("worker-offline") { race.settle(.success(())) }
        let timer = Task {
            try? await Task.sleep(for: .sleeping(seconds: Self.offlineWait))
            race.settle(.success(()))
        }
        await withCheckedContinuation { race.attach($0) }
        timer.cancel()
    }

    /// Runs one request and sends its answer, if it has one (kombu `Node.dispatch`).
    private func answer(_ request: PidboxRequest) {
        if let clock = request.clock { remote.adjust(to: clock) }
        let pidbox = self.pidbox, remote = self.remote
        switch pidboxAnswer(request) {
        case let .now(body):
            pidbox.reply(body, to: request, clock: remote.tick())
        case let .later(work):
            Task { pidbox.reply(await work(), to: request, clock: remote.tick()) }
        case .none:
            break
        }
    }

    /// A worker event with Python's heartbeat fields (`celery/worker/heartbeat.py`).
    /// - Parameter sent: runs once the event is written or its publish gave up.
    func sendWorkerEvent(_ type: String, freq: Double = Worker.eventHeartbeat, sent: (@Sendable () -> Void)? = nil) {
        var fields: JSONObject = [
            "freq": .double(freq), "active": .int(Int64(runningCount)), "processed": .int(Int64(remote.processed)),
            "loadavg": Self.loadAverage(),
        ]
        for (key, value) in Self.softwareInfo { fields[key] = value }
        sendEvent(type, fields, sent: sent)
    }

    /// A task event, while task events are on (`Request.send_event`: `uuid` first).
    func sendTaskEvent(_ type: String, id: String, _ fields: JSONObject = [:]) {
        guard remote.eventsEnabled else { return }
        var all: JSONObject = ["uuid": .string(id)]
        for (key, value) in fields { all[key] = value }
        sendEvent(type, all)
    }

    /// Counts the task and says `task-received` with what Celery's strategy sends.
    func taskReceived(_ message: TaskMessage) {
        remote.countReceived(message.task)
        // Checked first: the reprs below cost more than the rest of a delivery's preparation.
        guard remote.eventsEnabled else { return }
        sendTaskEvent("task-received", id: message.id, [
            "name": .string(message.task),
            "args": .string(message.argsrepr ?? PythonRepr.arguments(message.args)),
            "kwargs": .string(message.kwargsrepr ?? PythonRepr.keywords(message.kwargs)),
            "root_id": .string(message.rootId ?? message.id), "parent_id": message.parentId.map(JSON.string) ?? .null,
            "retries": .int(Int64(message.retries)),
            "eta": message.eta.map { .string(ISO8601.format($0)) } ?? .null,
            "expires": message.expires.map { .string(ISO8601.format($0)) } ?? .null,
        ])
    }

    /// `task-succeeded` with the result's repr and the runtime in seconds.
    func taskSucceeded(_ id: String, result: JSON, runtime: String) {
        guard remote.eventsEnabled else { return }
        sendTaskEvent("task-succeeded", id: id, ["result": .string(PythonRepr.value(result)), "runtime": .double(Double(runtime) ?? 0)])
    }

    /// `task-failed` or `task-retried`: the exception's repr and its traceback.
    func taskFailed(_ type: String, _ message: TaskMessage, info: ExceptionInfo) {
        guard remote.eventsEnabled else { return }
        sendTaskEvent(type, id: message.id, [
            "exception": .string(Self.exceptionRepr(info)),
            "traceback": .string(info.traceback(task: message.task, id: message.id, hostname: options.hostname)),
        ])
    }

    /// `ValueError('bad')`: Python's `repr` of an exception.
    static func exceptionRepr(_ info: ExceptionInfo) -> String {
        "\(info.type)(\(info.arguments.map { PythonRepr.value($0) }.joined(separator: ", ")))"
    }

    /// Adds Celery's standard fields (`EventDispatcher.publish`) and publishes.
    private func sendEvent(_ type: String, _ fields: JSONObject, sent: (@Sendable () -> Void)? = nil) {
        let offset = Self.utcOffset(), hostname = options.hostname, pidbox = self.pidbox
        remote.tick { clock in
            var event: JSONObject = [
                "hostname": .string(hostname), "utcoffset": .double(offset), "pid": .int(Int64(processIdentifier)),
                "clock": .int(Int64(clock)),
            ]
            for (key, value) in fields { event[key] = value }
            event["timestamp"] = .double(Date().timeIntervalSince1970)
            event["type"] = .string(type)
            pidbox.publishEvent(.object(event), type: type, sent: sent)
        }
    }

    /// Hours west of UTC as Python's `celery.utils.time.utcoffset` computes them
    /// (`time.timezone / 3600`, or `time.altzone / 3600` under daylight saving time).
    static func utcOffset() -> Double {
        Double(-TimeZone.current.secondsFromGMT()) / 3600
    }

    /// `os.getloadavg()` rounded to two places, as Celery's `load_average`.
    static func loadAverage() -> JSON {
        var loads = [Double](repeating: 0, count: 3)
        guard getloadavg(&loads, 3) == 3 else { return [0.0, 0.0, 0.0] }
        return .array(loads.map { .double(($0 * 100).rounded() / 100) })
    }
}
