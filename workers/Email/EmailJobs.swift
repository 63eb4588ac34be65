import Conveyor

/// The email job family: `email.send`.
public enum EmailJobs {
    /// The family name, as `conveyor-worker --families` takes it.
    public static let family = "email"
    /// The task name.
    public static let send = "email.send"
    /// The dead-letter reason of a mail the server refused for good (5xx).
    public static let permanentReason = "smtp-permanent"

    /// 4xx replies, connection failures, timeouts, unknown outcomes, an unreachable Redis and a
    /// send lock lost mid-send retry with backoff and full jitter; bad input and 5xx never do.
    public static let retry = RetryPolicy.exponential(maxRetries: 10, base: 2, cap: 600) { error in
        if let email = error as? EmailError { return email.isRetryable }
        if let conveyor = error as? ConveyorError { return conveyor.code == .backendUnavailable }
        // The Message-ID's lock lost mid-send (its renewals did not reach Redis in time): the
        // record says `sending`, so the retry resends, counted.
        if let lock = error as? LockError { return lock.code == .lost }
        return false
    }

    /// Registers `email.send(to, template, context={}, subject=null, from=null, reply_to=null, headers={})`.
    public static func register(into registry: inout TaskRegistry, service: EmailService) {
        registry.register(send, defaults: TaskDefaults(retry: retry)) { context in
            try await service.send(context)
        }
    }
}
