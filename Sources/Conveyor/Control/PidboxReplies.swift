import AMQP
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// What a pidbox command answers.
enum PidboxAnswer: Sendable {
    /// Answered at once, on the pidbox connection's thread.
    case now(JSON)
    /// Answered once some I/O (Redis, the broker) is done.
    case later(@Sendable () async -> JSON)
    /// No reply at all (`shutdown`, as Python's worker exits without one).
    case none
}

/// `{"ok": text}` / `{"error": text}`, Celery's `ok()` and `nok()`.
func pidboxOK(_ text: String) -> JSON { ["ok": .string(text)] }
func pidboxError(_ text: String) -> JSON { ["error": .string(text)] }

/// The `inspect` side of Celery's remote control (`celery/worker/control.py`), with the reply
/// shapes of Celery 5.7; the `control` side is in `PidboxControls.swift`.
extension Worker {
    /// The answer to `request`, computed without waiting for anything but locks.
    func pidboxAnswer(_ request: PidboxRequest) -> PidboxAnswer {
        let arguments = request.arguments
        switch request.method {
        case "ping": return .now(pidboxOK("pong"))
        case "stats": return .now(statsReply())
        case "active":
            let safe = arguments["safe"]?.bool == true
            return .now(.array(activeRuns.map { taskInfo($0.runnable.message, $0.runnable.delivery, started: $0.startedAt, safe: safe) }))
        case "reserved": return .now(.array(reservedMessages.map { taskInfo($0.message, $0.delivery, started: nil, safe: false) }))
        case "scheduled":
            return .now(.array(remote.held.map { held in
                ["eta": .string(ISO8601.format(held.eta)), "priority": 6,
                 "request": taskInfo(held.message, held.delivery, started: nil, safe: false)]
            }))
        case "revoked": return .now(.array(remote.revoked.map(JSON.string)))
        case "registered": return .now(registeredReply(builtins: arguments["builtins"]?.bool == true))
        case "active_queues": return .now(.array(remote.consumedQueues.map { kombuQueue($0) }))
        case "query_task": return .now(queryTask(arguments["ids"]))
        case "clock": return .now(["clock": .int(Int64(remote.clock))])
        case "conf": return .now(confReply())
        default: return controlAnswer(request)
        }
    }

    /// Celery's `Request.info()`: what `active`, `reserved`, `scheduled` and `query_task` list.
    func taskInfo(_ message: TaskMessage, _ delivery: Delivery, started: Date?, safe: Bool) -> JSON {
        [
            "id": .string(message.id), "name": .string(message.task),
            "args": safe ? .string(message.argsrepr ?? PythonRepr.arguments(message.args)) : .array(message.args),
            "kwargs": safe ? .string(message.kwargsrepr ?? PythonRepr.keywords(message.kwargs)) : .object(message.kwargs),
            "type": .string(message.task), "hostname": .string(options.hostname),
            "time_start": started.map { .double($0.timeIntervalSince1970) } ?? .null,
            // Conveyor acknowledges after the outcome is recorded (Celery's acks_late).
            "acknowledged": false,
            "delivery_info": [
                "exchange": .string(delivery.exchange), "routing_key": .string(delivery.routingKey),
                "priority": message.priority.map { .int(Int64($0)) } ?? .null, "redelivered": .bool(delivery.redelivered),
            ],
            "worker_pid": started == nil ? .null : .int(Int64(processIdentifier)),
        ]
    }

    /// Prefetched deliveries still waiting for a slot, decoded (those that do not decode are
    /// not tasks and are left out).
    private var reservedMessages: [(message: TaskMessage, delivery: Delivery)] {
        consumer.waiting.compactMap { delivery in
            guard case let .success(message) = TaskMessage.decode(properties: delivery.properties, body: delivery.body,
                                                                  maxBodySize: configuration.maxMessageSize) else { return nil }
            return (message, delivery)
        }
    }

    /// `{id: [state, info]}` for the ids this worker holds: active, reserved or scheduled.
    private func queryTask(_ ids: JSON?) -> JSON {
        let wanted = Set(ids?.array?.compactMap(\.string) ?? ids?.string.map { [$0] } ?? [])
        var found: [(key: String, value: JSON)] = []
        for (runnable, started) in activeRuns where wanted.contains(runnable.message.id) {
            found.append((runnable.message.id, ["active", taskInfo(runnable.message, runnable.delivery, started: started, safe: false)]))
        }
        for (message, delivery) in reservedMessages where wanted.contains(message.id) {
            found.append((message.id, ["reserved", taskInfo(message, delivery, started: nil, safe: false)]))
        }
        for held in remote.held where wanted.contains(held.message.id) {
            found.append((held.message.id, ["scheduled", taskInfo(held.message, held.delivery, started: nil, safe: false)]))
        }
        return .object(JSONObject(found))
    }

    /// Task names, sorted, with `[rate_limit=10/m]` where one is set in code; `celery.*`
    /// names only with `builtins`.
    private func registeredReply(builtins: Bool) -> JSON {
        .array(registry.names.filter { builtins || !$0.hasPrefix("celery.") }.map { name in
            guard let limit = registry.task(named: name)?.defaults.rateLimit else { return .string(name) }
            return .string("\(name) [rate_limit=\(limit.rate)]")
        })
    }

    /// kombu's `Queue.as_dict(recurse=True)` for a work queue, as Python's worker describes
    /// the queue it consumes: the declaration's arguments in `queue_arguments` (where Celery's
    /// `task_queue_max_priority` and quorum queues put them; kombu's own `max_priority` stays null).
    func kombuQueue(_ name: String) -> JSON {
        let declared = WorkQueue(name: name, type: configuration.queueType, maxPriority: configuration.maxPriority).arguments
        var arguments = JSONObject()
        if case let .string(type)? = declared["x-queue-type"] { arguments["x-queue-type"] = .string(type) }
        if case let .int32(priority)? = declared["x-max-priority"] { arguments["x-max-priority"] = .int(Int64(priority)) }
        return [
            "name": .string(name),
            "exchange": [
                "name": .string(name), "type": "direct", "arguments": .null, "durable": true, "passive": false,
                "auto_delete": false, "delivery_mode": .null, "no_declare": false,
            ],
            "routing_key": .string(name), "queue_arguments": arguments.isEmpty ? .null : .object(arguments),
            "binding_arguments": .null, "consumer_arguments": .null,
            "durable": true, "exclusive": false, "auto_delete": false, "no_ack": false, "alias": .null, "bindings": [],
            "no_declare": .null, "expires": .null, "message_ttl": .null, "max_length": .null, "max_length_bytes": .null,
            "max_priority": .null,
        ]
    }

    /// What a Swift worker's `stats` calls its pool (Python's say `celery.concurrency.prefork:TaskPool`).
    public static let poolImplementation = "conveyor.worker:SwiftTasks"

    /// Celery's worker `stats()`: counts by task, process, pool, broker and resource use.
    func statsReply() -> JSON {
        let endpoints = (try? configuration.brokerEndpoints()) ?? []
        let broker: JSON
        if let first = endpoints.first {
            broker = [
                "hostname": .string(first.host), "userid": .string(first.user), "virtual_host": .string(first.vhost),
                "port": .int(Int64(first.port)), "insist": false, "ssl": .bool(first.tls), "transport": "amqp",
                "connect_timeout": .double(first.connectTimeout), "transport_options": [:], "login_method": "PLAIN",
                "uri_prefix": .null, "heartbeat": .double(Double(first.heartbeat)),
                "failover_strategy": "round-robin",
                "alternates": .array(endpoints.dropFirst().map { .string("amqp://\($0.host):\($0.port)/") }),
                "credential_provider": .null,
            ]
        } else {
            broker = [:]
        }
        let totals = remote.totals
        return [
            "total": .object(JSONObject(totals.map { (key: $0.name, value: JSON.int(Int64($0.count))) })),
            "pid": .int(Int64(processIdentifier)), "clock": .string(String(remote.clock)),
            "uptime": .int(Int64(max(0, Date().timeIntervalSince(stats.startedAt)))),
            "pool": [
                "implementation": .string(Self.poolImplementation), "max-concurrency": .int(Int64(slots.capacity)),
                "processes": [.int(Int64(processIdentifier))], "max-tasks-per-child": "N/A", "put-guarded-by-semaphore": false,
                "timeouts": [0, 0],
            ],
            "broker": broker, "prefetch_count": .int(Int64(options.effectivePrefetch) * Int64(remote.consumedQueues.count)),
            "rusage": Self.resourceUsage(),
        ]
    }

    /// `getrusage(RUSAGE_SELF)` as Python's `resource` module names it.
    static func resourceUsage() -> JSON {
        var usage = Glibc.rusage()
        guard getrusage(RUSAGE_SELF.rawValue, &usage) == 0 else { return [:] }
        func seconds(_ t: timeval) -> JSON { .double(Double(t.tv_sec) + Double(t.tv_usec) / 1_000_000) }
        let counts: [(String, Int)] = [
            ("maxrss", usage.ru_maxrss), ("ixrss", usage.ru_ixrss), ("idrss", usage.ru_idrss), ("isrss", usage.ru_isrss),
            ("minflt", usage.ru_minflt), ("majflt", usage.ru_majflt), ("nswap", usage.ru_nswap), ("inblock", usage.ru_inblock),
            ("oublock", usage.ru_oublock), ("msgsnd", usage.ru_msgsnd), ("msgrcv", usage.ru_msgrcv), ("nsignals", usage.ru_nsignals),
            ("nvcsw", usage.ru_nvcsw), ("nivcsw", usage.ru_nivcsw),
        ]
        var members: [(key: String, value: JSON)] = [("utime", seconds(usage.ru_utime)), ("stime", seconds(usage.ru_stime))]
        members += counts.map { (key: $0.0, value: JSON.int(Int64($0.1))) }
        return .object(JSONObject(members))
    }

    /// The settings Celery would list as changed, under Celery's names (URLs without passwords).
    private func confReply() -> JSON {
        [
            "broker_url": .string(configuration.redactedBrokerURL), "result_backend": .string(configuration.redactedResultURL),
            "task_default_queue": .string(configuration.defaultQueue), "worker_concurrency": .int(Int64(slots.capacity)),
            "worker_prefetch_multiplier": .int(Int64(max(1, Int(options.effectivePrefetch) / max(1, options.concurrency)))),
            "task_track_started": .bool(options.trackStarted), "worker_send_task_events": .bool(remote.eventsEnabled),
            "result_expires": configuration.resultTTL.map { .int(Int64($0)) } ?? .null,
            "include": .array(registry.names.map(JSON.string)),
        ]
    }
}
