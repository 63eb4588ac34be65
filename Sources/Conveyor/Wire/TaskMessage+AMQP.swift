import AMQP
import Foundation

extension TaskMessage {
    /// The AMQP message Celery 5.7 would publish for this task to `queue` (default exchange,
    /// routing key = queue name, persistent, JSON).
    public func outgoing(queue: String, exchange: String = "", routingKey: String? = nil, mandatory: Bool = true) -> OutgoingMessage {
        OutgoingMessage(exchange: exchange, routingKey: routingKey ?? queue, properties: properties, body: body, mandatory: mandatory)
    }

    /// Celery's application headers, in Celery's order, followed by custom ones: every one whose
    /// name is not Celery's, in order, a repeated one too (as it arrived, so that a message
    /// written again reads back with the headers it had).
    public var headers: FieldTable {
        var h = FieldTable()
        h.entries.reserveCapacity(19 + extraHeaders.count)
        func add(_ key: String, _ value: FieldValue) { h.entries.append(.init(key: key, value: value)) }
        add("lang", .string(lang))
        add("task", .string(task))
        add("id", .string(id))
        add("shadow", shadow.map(FieldValue.string) ?? .void)
        add("eta", eta.map { .string(ISO8601.format($0)) } ?? .void)
        add("expires", expires.map { .string(ISO8601.format($0)) } ?? .void)
        add("group", group.map(FieldValue.string) ?? .void)
        add("group_index", groupIndex.map { .int64(Int64($0)) } ?? .void)
        add("retries", .int64(Int64(retries)))
        add("timelimit", .array([Self.limitField(timeLimit), Self.limitField(softTimeLimit)]))
        add("root_id", .string(rootId ?? id))
        add("parent_id", parentId.map(FieldValue.string) ?? .void)
        add("argsrepr", .string(argsrepr ?? PythonRepr.arguments(args)))
        add("kwargsrepr", .string(kwargsrepr ?? PythonRepr.keywords(kwargs)))
        add("origin", .string(origin ?? TaskMessage.defaultOrigin))
        add("ignore_result", .bool(ignoreResult))
        add("replaced_task_nesting", .int64(Int64(replacedTaskNesting)))
        add("stamped_headers", .void)
        add("stamps", .table([:]))
        for entry in extraHeaders.entries where !Self.celeryHeaderNames.contains(entry.key) { h.entries.append(entry) }
        return h
    }

    /// Headers the broker adds when it dead-letters a message (the delay cascade does, level by
    /// level): its history, not the task's.
    static let deathHeaderNames: Set<String> = [
        "x-death", "x-first-death-queue", "x-first-death-reason", "x-first-death-exchange",
        "x-last-death-queue", "x-last-death-reason", "x-last-death-exchange",
    ]

    /// This message as a new copy to send through the delay cascade (a retry, a deferral):
    /// without the broker's dead-letter history. RabbitMQ drops a message, silently, when it
    /// would be dead-lettered into a queue its `x-death` says it was dead-lettered from before
    /// (its cycle detection), so a copy that kept the history of an earlier trip through the
    /// cascade vanished on a later one that shared a level (a task deferred by 1 s, then by 3 s).
    var freshCopy: TaskMessage {
        var copy = self
        copy.extraHeaders.entries.removeAll { Self.deathHeaderNames.contains($0.key) }
        return copy
    }

    /// The 19 headers `headers` writes from the message's fields; custom headers cannot replace them.
    static let celeryHeaderNames: Set<String> = [
        "lang", "task", "id", "shadow", "eta", "expires", "group", "group_index", "retries", "timelimit", "root_id",
        "parent_id", "argsrepr", "kwargsrepr", "origin", "ignore_result", "replaced_task_nesting", "stamped_headers", "stamps",
    ]

    /// Celery's properties: JSON, UTF-8, persistent, priority always present, correlation id
    /// = task id, the client's reply-to oid, and `expiration` when the task expires.
    public var properties: BasicProperties {
        BasicProperties(contentType: "application/json", contentEncoding: "utf-8", headers: headers, deliveryMode: 2,
                        priority: priority ?? 0, correlationId: id, replyTo: replyTo ?? TaskMessage.processReplyTo,
                        expiration: expiration)
    }

    /// `[args, kwargs, {"callbacks", "errbacks", "chain", "chord"}]` as Python's `json.dumps`.
    public var body: [UInt8] {
        var embed = JSONObject()
        embed.reserveCapacity(4)
        embed.appendUnchecked("callbacks", callbacks.map { .array($0.map { .object($0.json) }) } ?? .null)
        embed.appendUnchecked("errbacks", errbacks.map { .array($0.map { .object($0.json) }) } ?? .null)
        embed.appendUnchecked("chain", chain.map { .array($0.map { .object($0.json) }) } ?? .null)
        embed.appendUnchecked("chord", chord ?? .null)
        return JSON.array([.array(args), .object(kwargs), .object(embed)]).serialized(.python)
    }

    private static func limitField(_ seconds: Double?) -> FieldValue {
        guard let seconds else { return .void }
        if seconds.rounded() == seconds && abs(seconds) < 2e9 { return .int64(Int64(seconds)) }
        return .double(seconds)
    }

    /// An `eta`/`expires` header: `.some(nil)` when absent or None, nil when it is not a time
    /// in the years 1…9999 (a number of seconds since 1970 too: NaN, ±infinity or 1e300 are not).
    private static func time(_ value: FieldValue?) -> Date?? {
        guard let value, !value.isVoid else { return .some(nil) }
        if let text = value.stringValue, let date = ISO8601.parse(text) { return date }
        if let seconds = value.doubleValue, case let date = Date(timeIntervalSince1970: seconds), ISO8601.isRepresentable(date) {
            return date
        }
        return nil
    }

    /// `gen<pid>@<host>`, as Celery's `anon_nodename`.
    static let defaultOrigin: String = "gen\(ProcessInfo.processInfo.processIdentifier)@\(ProcessInfo.processInfo.hostName)"

    /// A per-process id in Celery's reply-to slot (meaningful only to the rpc:// backend).
    static let processReplyTo: String = TaskID.make()

    /// Decodes a delivery into a task, or says why it is not one. Nothing is deserialised
    /// unless the content type is JSON.
    public static func decode(properties: BasicProperties, body: [UInt8], maxBodySize: Int = .max) -> Result<TaskMessage, RejectionReason> {
        let contentType = properties.contentType == "application/json" ? "application/json" : properties.contentType?.lowercased()
        guard let contentType, contentType == "application/json" || contentType.hasPrefix("application/json;") else {
            return .failure(.contentType(properties.contentType))
        }
        if let encoding = properties.contentEncoding, encoding != "utf-8", case let lowered = encoding.lowercased(),
           !["utf-8", "utf8", "binary", ""].contains(lowered) {
            return .failure(.contentEncoding(lowered))
        }
        // Headers are read last to first, so that of a repeated header the first copy wins, as
        // with a lookup; each name is classified by `CeleryHeader` (a lookup per header would
        // compare each name ~20 times).
        let headers = properties.headers?.entries ?? []
        var (task, id, codec): (String?, String?, String?) = (nil, nil, nil)
        for entry in headers.reversed() {
            switch CeleryHeader(name: entry.key) {
            case .task: task = entry.value.stringValue
            case .id: id = entry.value.stringValue
            case .compression: codec = entry.value.stringValue
            default: continue
            }
        }
        if let codec { return .failure(.compressed(codec)) }
        guard body.count <= maxBodySize else { return .failure(.tooLarge(body.count, limit: maxBodySize)) }
        guard let task, !task.isEmpty else { return .failure(.missingHeader("task")) }
        guard let id, !id.isEmpty else { return .failure(.missingHeader("id")) }

        let parsed: JSON
        do {
            parsed = try JSON.parse(body)
        } catch {
            return .failure(.malformedBody("body is not valid JSON: \(error)"))
        }
        guard case let .array(parts) = parsed, parts.count == 3 else {
            return .failure(.malformedBody("body must be a JSON array [args, kwargs, embed]"))
        }
        guard case let .array(args) = parts[0] else { return .failure(.malformedBody("args (body[0]) must be a JSON array")) }
        guard case let .object(kwargs) = parts[1] else { return .failure(.malformedBody("kwargs (body[1]) must be a JSON object")) }
        let embed: JSONObject
        switch parts[2] {
        case let .object(o): embed = o
        case .null: embed = [:]
        default: return .failure(.malformedBody("embed (body[2]) must be a JSON object or null"))
        }

        var message = TaskMessage(id: id, task: task, args: args, kwargs: kwargs)
        message.callbacks = Signature.list(embed["callbacks"])
        message.errbacks = Signature.list(embed["errbacks"])
        message.chain = Signature.list(embed["chain"])
        if let chord = embed["chord"], !chord.isNull { message.chord = chord }

        var extra: [FieldTable.Entry] = []
        var times: (eta: FieldValue?, expires: FieldValue?) = (nil, nil)
        for entry in headers.reversed() {
            let value = entry.value
            guard let header = CeleryHeader(name: entry.key) else {
                extra.append(entry)
                continue
            }
            switch header {
            case .task, .id, .stampedHeaders, .stamps: continue
            // Read above; kept among the custom headers, as any other Celery does not write.
            case .compression: extra.append(entry)
            case .lang: message.lang = value.stringValue ?? "py"
            case .shadow: message.shadow = value.stringValue
            case .eta: times.eta = value
            case .expires: times.expires = value
            case .group: message.group = value.stringValue
            case .groupIndex: message.groupIndex = value.intValue.map { Int($0) }
            // Never below 0: a negative count would buy a task endless retries.
            case .retries: message.retries = Int(max(0, value.intValue ?? 0))
            case .timelimit:
                if case let .array(limits) = value {
                    // Not a usable limit (NaN, infinite, zero or negative): no limit, as Celery's None.
                    let usable = { (seconds: Double?) in seconds.flatMap { $0.isFinite && $0 > 0 ? $0 : nil } }
                    message.timeLimit = usable(limits.first?.doubleValue)
                    message.softTimeLimit = usable(limits.count > 1 ? limits[1].doubleValue : nil)
                } else {
                    (message.timeLimit, message.softTimeLimit) = (nil, nil)
                }
            case .rootId: message.rootId = value.stringValue
            case .parentId: message.parentId = value.stringValue
            case .argsrepr: message.argsrepr = value.stringValue
            case .kwargsrepr: message.kwargsrepr = value.stringValue
            case .origin: message.origin = value.stringValue
            case .ignoreResult: message.ignoreResult = value.boolValue ?? false
            case .replacedTaskNesting: message.replacedTaskNesting = Int(value.intValue ?? 0)
            }
        }
        message.extraHeaders = FieldTable(extra.reversed())
        guard let eta = time(times.eta), let expires = time(times.expires) else {
            return .failure(.invalidHeader(time(times.eta) == nil ? "eta" : "expires", "is not an ISO-8601 time in the years 1...9999"))
        }
        (message.eta, message.expires) = (eta, expires)
        message.priority = properties.priority
        message.replyTo = properties.replyTo
        message.expiration = properties.expiration
        return .success(message)
    }
}
