import Logging

/// Connects an I/O thread to the server its endpoint means: the server itself, or, for a
/// Sentinel endpoint, the primary the sentinels name.
///
/// The sentinels are asked in the order the URL lists them (`SENTINEL get-master-addr-by-name`);
/// the first that answers with an address is believed, and the server at that address must then
/// say `master` to `ROLE`. A sentinel that is down, does not know the name, or names a server
/// that is unreachable or not (any longer) a primary, is passed over for the next one: during a
/// failover some sentinels still name the old primary for a moment. When none leads to a
/// primary the connect fails like any other, and the owner's reconnect pacing decides when to
/// ask again. Used by `RedisConnection` and `RedisSubscriber` on every (re)connect, so a
/// failover needs nothing from their callers.
struct PrimaryLocator {
    /// The longest a sentinel may take to accept a connection or answer, seconds (or the
    /// endpoint's timeouts when shorter): a hung sentinel must not hold every reconnect for the
    /// endpoint's full timeouts before the next sentinel is asked.
    static let sentinelTimeout = 3.0
    /// The shortest a connect or a command is given, seconds, however little its caller has
    /// left: a caller late by a moment (a loaded machine) must not turn into a dropped connection.
    static let minimumBudget = 1.0

    let endpoint: RedisEndpoint
    let logger: Logger
    /// The primary of the last connect, to log a change once rather than on every reconnect.
    private var lastPrimary: String?

    init(endpoint: RedisEndpoint, logger: Logger) {
        self.endpoint = endpoint
        self.logger = logger
    }

    /// Whether connections must re-resolve on `READONLY` (the server was demoted under them).
    var followsFailover: Bool { endpoint.sentinel != nil }

    /// A new connection to the server, or to the current primary.
    /// - Parameter budget: seconds the callers waiting for it have left: no connect or handshake
    ///   step waits longer than that (nor longer than the endpoint's own timeouts).
    /// - Throws: `RedisError.Code.connectionFailed` with each sentinel's reason.
    mutating func connect(within budget: Double = .infinity) throws -> Context {
        var endpoint = self.endpoint
        let bound = max(budget, Self.minimumBudget)
        endpoint.connectTimeout = min(endpoint.connectTimeout, bound)
        endpoint.commandTimeout = min(endpoint.commandTimeout, bound)
        guard let sentinel = endpoint.sentinel else { return try Context(endpoint: endpoint) }
        var reasons: [String] = []
        for address in sentinel.sentinels {
            do {
                let primary = try ask(address, for: sentinel.masterName, from: endpoint)
                let context = try Context(endpoint: primary)
                try Self.requirePrimary(context, at: primary)
                let found = "\(primary.host):\(primary.port)"
                if found != lastPrimary {
                    logger.info("redis primary found through sentinel",
                                metadata: ["primary": "\(found)", "master_name": "\(sentinel.masterName)", "sentinel": "\(address)"])
                    lastPrimary = found
                }
                return context
            } catch let error as RedisError {
                reasons.append("sentinel \(address): \(error.message)")
            }
        }
        throw RedisError(.connectionFailed, "no sentinel led to the primary '\(sentinel.masterName)': \(reasons.joined(separator: "; "))")
    }

    /// The primary's endpoint as `address` names it: the endpoint's credentials, database and
    /// timeouts at the host and port the sentinel gave.
    private func ask(_ address: RedisSentinel.Address, for name: String, from endpoint: RedisEndpoint) throws -> RedisEndpoint {
        var sentinelEndpoint = endpoint
        sentinelEndpoint.sentinel = nil
        sentinelEndpoint.host = address.host
        sentinelEndpoint.port = address.port
        // Sentinels have no databases, and the password in the URL is the primary's.
        sentinelEndpoint.user = nil
        sentinelEndpoint.password = nil
        sentinelEndpoint.database = 0
        sentinelEndpoint.connectTimeout = min(endpoint.connectTimeout, Self.sentinelTimeout)
        sentinelEndpoint.commandTimeout = min(endpoint.commandTimeout, Self.sentinelTimeout)
        let context = try Context(endpoint: sentinelEndpoint)
        let reply = try context.command(["SENTINEL", "get-master-addr-by-name", name].map { Array($0.utf8) })
        if case let .error(message) = reply { throw RedisError(.connectionFailed, "refused SENTINEL get-master-addr-by-name: \(message)") }
        guard !reply.isNull else { throw RedisError(.connectionFailed, "does not monitor a primary named '\(name)'") }
        guard let items = reply.array, items.count == 2, let host = items[0].string, !host.isEmpty,
              let portText = items[1].string, let port = Int(portText), RedisEndpoint.ports.contains(port) else {
            throw RedisError(.protocolError, "answered get-master-addr-by-name with something other than a host and a port")
        }
        var primary = endpoint
        primary.sentinel = nil
        primary.host = host
        primary.port = port
        return primary
    }

    /// Throws unless the server says `master` to `ROLE`: a sentinel may still name a primary that
    /// has just been demoted (or come back after a failover, not yet reconfigured as a replica).
    static func requirePrimary(_ context: Context, at endpoint: RedisEndpoint) throws {
        let reply = try context.command([Array("ROLE".utf8)])
        if case let .error(message) = reply { throw RedisError(.connectionFailed, "\(endpoint) refused ROLE: \(message)") }
        guard let role = reply.array?.first?.string else {
            throw RedisError(.protocolError, "\(endpoint) answered ROLE with something other than a role")
        }
        guard role == "master" else { throw RedisError(.connectionFailed, "\(endpoint) is a \(role), not the primary") }
    }

    /// Whether a reply says the server is a read-only replica (it was demoted by a failover).
    static func isReadOnly(_ reply: RedisReply) -> Bool {
        if case let .error(message) = reply { return message.hasPrefix("READONLY") }
        return false
    }
}
