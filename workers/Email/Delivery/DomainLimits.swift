import Conveyor

/// The limits of one recipient domain: a fleet-wide rate and a fleet-wide cap on messages
/// being sent at once.
public struct DomainLimit: Sendable, Hashable {
    /// Messages per period across the fleet (nil: no rate limit).
    public var rate: RateLimit?
    /// Messages being sent at once across the fleet, 1 or more (nil: no cap).
    public var concurrency: Int?

    /// - Parameters:
    ///   - rate: messages per period, fleet-wide; nil for none.
    ///   - concurrency: messages at once, fleet-wide, 1 or more; nil for none.
    public init(rate: RateLimit? = nil, concurrency: Int? = nil) {
        self.rate = rate
        self.concurrency = concurrency
    }
}

/// Per-domain limits with a default for every other domain.
///
/// Written `DOMAIN=[RATE][,burst=N][,concurrency=N]` (`example.com=100/m,burst=10,concurrency=4`;
/// `default=…` for the rest), as `conveyor-worker --email-domain-limit` takes it.
public struct DomainLimits: Sendable, Hashable {
    /// For domains not named.
    public var fallback: DomainLimit
    /// By lowercased domain.
    public var domains: [String: DomainLimit]

    /// The default: at most 20 messages at once per domain, no rate limit.
    public init(fallback: DomainLimit = DomainLimit(concurrency: 20), domains: [String: DomainLimit] = [:]) {
        self.fallback = fallback
        self.domains = domains
    }

    /// The limit of `domain`.
    public func limit(for domain: String) -> DomainLimit { domains[domain.lowercased()] ?? fallback }

    /// Most concurrency a domain may be given (a cap beyond any fleet's slots is no cap).
    public static let concurrencies = 1...100_000

    /// Adds one `DOMAIN=…` assignment.
    /// - Throws: `EmailError.Code.configuration` naming what is wrong.
    public mutating func add(_ assignment: String) throws {
        func refuse(_ why: String) -> EmailError { EmailError(.configuration, "domain limit '\(assignment)': \(why)") }
        guard let equals = assignment.firstIndex(of: "=") else { throw refuse("expected DOMAIN=[RATE][,burst=N][,concurrency=N]") }
        let domain = assignment[..<equals].trimmingCharacters(in: .whitespaces).lowercased()
        guard !domain.isEmpty, domain.utf8.count <= 253, domain.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "-.".contains($0)) }) else {
            throw refuse("bad domain '\(domain)'")
        }
        var rate: String?
        var burst = 1
        var concurrency: Int?
        for item in assignment[assignment.index(after: equals)...].split(separator: ",").map({ $0.trimmingCharacters(in: .whitespaces) }) where !item.isEmpty {
            if item.hasPrefix("burst=") {
                guard let value = Int(item.dropFirst(6)), (1...RateLimit.maxBurst).contains(value) else {
                    throw refuse("burst must be a whole number in 1...\(RateLimit.maxBurst)")
                }
                burst = value
            } else if item.hasPrefix("concurrency=") {
                guard let value = Int(item.dropFirst(12)), Self.concurrencies.contains(value) else {
                    throw refuse("concurrency must be a whole number in \(Self.concurrencies)")
                }
                concurrency = value
            } else if rate == nil, item.contains("/") || Int(item) != nil {
                rate = item
            } else {
                throw refuse("unknown part '\(item)'")
            }
        }
        let limit: DomainLimit
        do {
            limit = DomainLimit(rate: try rate.map { try RateLimit($0, burst: burst) }, concurrency: concurrency)
        } catch let error as ConveyorError {
            throw refuse(error.message)
        }
        if domain == "default" { fallback = limit } else { domains[domain] = limit }
    }
}
