import Conveyor
import Foundation
import Logging

/// Sends the mail of one `email.send` run: checks the input, renders, builds the message,
/// keeps the per-domain limits, sends it once, and records that it was sent.
public final class EmailService: Sendable {
    /// The settings it was made with.
    public let options: EmailOptions
    let templates: TemplateStore
    let transport: SMTPTransport

    /// - Parameters:
    ///   - options: the family's settings (checked here).
    ///   - logger: for the SMTP connections.
    /// - Throws: `EmailError.Code.configuration` for a bad setting or templates directory.
    public init(options: EmailOptions, logger: Logger) throws {
        try options.validate()
        self.options = options
        templates = try TemplateStore(directory: options.templates, missingVariables: options.missingVariables)
        transport = try SMTPTransport(endpoint: options.endpoint, options: options.transport, logger: logger)
    }

    /// Closes the SMTP connections.
    public func close() { transport.close() }

    /// One run of `email.send`.
    /// - Returns: `{message_id, accepted, rejected, smtp_reply}`.
    /// - Throws: `EmailError` (retried when `isRetryable`), `DeadLetterRequest` for a 5xx,
    ///   `TaskDeferral` when a domain is over its limits or backing off.
    func send(_ task: TaskContext) async throws -> JSON {
        let request = try EmailRequest(task)
        let from = request.from ?? options.defaultFrom
        let rendered = try templates.render(request.template, context: request.context)
        let subject = request.subject ?? rendered.subject
        try EmailRequest.checkHeaderText(subject, "subject")
        let messageID = Self.messageID(taskID: task.id, domain: from.domain)
        var builder = MessageBuilder(from: from, to: request.to, replyTo: request.replyTo, subject: subject, messageID: messageID,
                                     date: Date(), text: rendered.text, html: rendered.html)
        builder.headers = request.headers
        let message = builder.build()
        guard message.count <= options.maxMessageBytes else {
            throw EmailError(.tooLarge, "the message is \(message.count) bytes, more than the \(options.maxMessageBytes) allowed")
        }
        let envelope = SMTPEnvelope(from: from.address, recipients: request.to.map(\.address), message: message)
        let domains = Array(Set(request.to.map(\.domain))).sorted()
        // One run at a time per Message-ID. A deferral or retry is published before its message
        // is acknowledged, so a crash between the two leaves two copies of the task; run at once,
        // both would find no record and send. The second defers while the first holds the lock
        // (a crashed holder's lease ends by itself), then finds the first one's record.
        return try await task.withLock(Self.sendLockName(messageID), lease: .seconds(options.sendLeaseSeconds),
                                       whenBusy: .deferRun(after: Self.busyRetry)) { _ in
            try await self.deliver(envelope, messageID: messageID, domains: domains, task: task)
        }
    }

    /// Seconds a copy that found the lock held waits before it looks again: when the holder
    /// succeeds the copy is then skipped as a duplicate; when it crashed, its lease ends.
    static let busyRetry = 2.0

    static func sendLockName(_ messageID: String) -> String { "email:send:" + messageID }

    /// Under the Message-ID's lock: returns a recorded outcome, or sends (again, after an
    /// attempt of unknown outcome) and records it.
    private func deliver(_ envelope: SMTPEnvelope, messageID: String, domains: [String], task: TaskContext) async throws -> JSON {
        let logger = task.logger
        let records = SentRecords(store: task.keyValues, ttl: .seconds(options.sentRecordSeconds))
        let resends: Int
        switch try await records.state(of: messageID) {
        case let .sent(outcome):
            logger.info("mail already sent; returning its recorded outcome", metadata: ["message_id": "\(messageID)"])
            return outcome
        case let .sending(earlier):
            resends = earlier + 1
        case .none:
            resends = 0
        }
        try await checkBackoff(domains, task)
        return try await withDomainCaps(domains[...], task) {
            try await self.checkRates(domains, task)
            try await records.markSending(messageID, resends: resends)
            if resends > 0 {
                // Logged here, as the mail goes again, not for a run deferred before it (one line per resend).
                logger.warning("an earlier attempt's outcome is unknown; sending again with the same Message-ID",
                               metadata: ["message_id": "\(messageID)", "resends": "\(resends)"])
            }
            let receipt: SMTPReceipt
            do {
                receipt = try await self.transport.send(envelope)
            } catch let error as EmailError {
                try await self.settle(error, messageID: messageID, records: records, resends: resends, domains: domains, task: task)
            }
            if resends == 0 { self.options.crashHook?.fire(.afterReply, messageID: messageID, logger: logger) }
            let outcome: JSON = [
                "message_id": .string(messageID),
                "accepted": .array(receipt.accepted.map(JSON.string)),
                "rejected": .object(JSONObject(receipt.rejected.sorted { $0.key < $1.key }.map { ($0.key, JSON.string($0.value)) })),
                "smtp_reply": .string(receipt.reply),
            ]
            try await records.markSent(messageID, outcome: outcome, resends: resends)
            if resends == 0 { self.options.crashHook?.fire(.afterRecord, messageID: messageID, logger: logger) }
            return outcome
        }
    }

    /// After a failed send: keeps or clears the record, backs the domains off after 421/454,
    /// and throws what the worker acts on (retry, or a dead letter for a 5xx).
    private func settle(_ error: EmailError, messageID: String, records: SentRecords, resends: Int, domains: [String],
                        task: TaskContext) async throws -> Never {
        // Before the message's end nothing went out on this attempt; an earlier attempt of
        // unknown outcome keeps the record, so its resend is still counted.
        if error.code != .unknownOutcome, resends == 0 { try? await records.clear(messageID) }
        if let reply = error.reply, reply.hasPrefix("421") || reply.hasPrefix("454") {
            for domain in domains {
                try? await task.keyValues.set(Self.backoffKey(domain), json: .string(reply), ttl: .seconds(options.domainBackoffSeconds))
            }
        }
        if error.code == .permanent { throw task.deadLetter(reason: EmailJobs.permanentReason, because: error) }
        throw error
    }

    /// Defers the run while one of the domains backs off after a 421 or 454.
    private func checkBackoff(_ domains: [String], _ task: TaskContext) async throws {
        for domain in domains {
            if let seconds = try await task.keyValues.timeToLive(Self.backoffKey(domain)) {
                throw task.deferral(after: max(1, seconds), reason: "domain-backoff")
            }
        }
    }

    /// Counts one message against each domain's rate, deferring the run when one is over it.
    private func checkRates(_ domains: [String], _ task: TaskContext) async throws {
        for domain in domains {
            guard let rate = options.domainLimits.limit(for: domain).rate else { continue }
            let decision = try await task.rateLimiter.allow(key: "email:domain:" + domain, limit: rate)
            if !decision.allowed { throw task.deferral(after: max(0.05, decision.retryAfter), reason: "domain-rate") }
        }
    }

    /// Runs `body` holding a slot of each capped domain's concurrency cap (taken in name order,
    /// so two messages to the same domains never wait on each other crosswise).
    private func withDomainCaps<T: Sendable>(_ domains: ArraySlice<String>, _ task: TaskContext,
                                             _ body: @escaping @Sendable () async throws -> T) async throws -> T {
        guard let domain = domains.first else { return try await body() }
        let rest = domains.dropFirst()
        guard let limit = options.domainLimits.limit(for: domain).concurrency else { return try await withDomainCaps(rest, task, body) }
        return try await task.withConcurrencyCap("email:domain:" + domain, limit: limit, lease: .seconds(20)) {
            try await self.withDomainCaps(rest, task, body)
        }
    }

    static func backoffKey(_ domain: String) -> String { "email:backoff:" + domain }

    /// `<TASK-ID@DOMAIN>`: the same for every delivery of one task. An id with characters a
    /// Message-ID cannot hold is replaced by its hash.
    static func messageID(taskID: String, domain: String) -> String {
        let safe = !taskID.isEmpty && taskID.utf8.count <= 128 && taskID.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || "-._".contains($0)) }
        let local = safe ? taskID : "h" + String(taskID.utf8.reduce(UInt64(14_695_981_039_346_656_037)) { ($0 ^ UInt64($1)) &* 1_099_511_628_211 }, radix: 16)
        return "<\(local)@\(domain)>"
    }
}
