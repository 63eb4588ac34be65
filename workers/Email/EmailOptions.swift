/// The settings of the email family.
public struct EmailOptions: Sendable {
    /// The templates directory (`--templates` / `CONVEYOR_TEMPLATES`).
    public var templates: String
    /// Where mail goes (`CONVEYOR_SMTP_URL`).
    public var endpoint: SMTPEndpoint
    /// The sender when the task names none.
    public var defaultFrom: EmailAddress
    /// What a missing template variable does.
    public var missingVariables: TemplateStore.MissingVariables = .error
    /// The largest message sent, bytes (1 KiB...100 MiB).
    public var maxMessageBytes = 10 << 20
    /// Seconds a record of a sent mail is kept, so a redelivery within it is not sent again (1 h...90 days).
    public var sentRecordSeconds = 7 * 86_400
    /// Seconds a domain is left alone after it answered 421 or 454 (1...86,400).
    public var domainBackoffSeconds = 60
    /// Seconds a Message-ID's send lock lasts without a renewal (renewed every third while held;
    /// 1...3,600). A worker that dies mid-send holds it this long, so that mail's redelivery
    /// waits as long; a holder that cannot renew it in time (Redis unreachable, a process too
    /// starved to run its renewals) loses it, and the run retries with its resend counted.
    public var sendLeaseSeconds = 20
    /// Per-domain limits across the fleet.
    public var domainLimits = DomainLimits()
    /// The SMTP connections.
    public var transport = SMTPTransport.Options()
    /// Fault tests only: where the process dies on purpose (see `EmailCrashHook`); nil in production.
    public var crashHook: EmailCrashHook?

    /// The allowed ranges of the numbers above.
    public static let messageSizes = 1024...(100 << 20)
    public static let sentRecordTimes = 3600...(90 * 86_400)
    public static let domainBackoffTimes = 1...86_400
    public static let sendLeaseTimes = 1...3600

    /// - Parameters:
    ///   - templates: the templates directory.
    ///   - endpoint: the SMTP server.
    ///   - defaultFrom: the sender when a task names none.
    public init(templates: String, endpoint: SMTPEndpoint, defaultFrom: EmailAddress) {
        self.templates = templates
        self.endpoint = endpoint
        self.defaultFrom = defaultFrom
    }

    /// Checks the numbers.
    /// - Throws: `EmailError.Code.configuration` naming the setting.
    public func validate() throws {
        guard Self.messageSizes.contains(maxMessageBytes) else {
            throw EmailError(.configuration, "largest message must be in \(Self.messageSizes) bytes, not \(maxMessageBytes)")
        }
        guard Self.sentRecordTimes.contains(sentRecordSeconds) else {
            throw EmailError(.configuration, "sent records must be kept \(Self.sentRecordTimes) seconds, not \(sentRecordSeconds)")
        }
        guard Self.domainBackoffTimes.contains(domainBackoffSeconds) else {
            throw EmailError(.configuration, "domain backoff must be \(Self.domainBackoffTimes) seconds, not \(domainBackoffSeconds)")
        }
        guard Self.sendLeaseTimes.contains(sendLeaseSeconds) else {
            throw EmailError(.configuration, "the send lock's lease must be \(Self.sendLeaseTimes) seconds, not \(sendLeaseSeconds)")
        }
    }
}
