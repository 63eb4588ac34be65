import IOSupport

/// Where a Redis server is, parsed from `redis://[user:password@]host[:port][/db]`,
/// `unix:///path/to/socket?db=N`, or a Sentinel list
/// `sentinel://[user:password@]host[:port][/db];sentinel://host[:port][/db]?master_name=NAME`
/// (see `RedisSentinel`).
///
/// hiredis 0.14 has no TLS, so `rediss://` is refused with a clear error.
///
/// User and password (in the user info or `?password=`) are percent-decoded by
/// `PercentDecoding`, as broker URLs are: a `%` not followed by two hex digits is refused.
/// Numbers are checked where they are read (port in `RedisEndpoint.ports`, the database in
/// `RedisEndpoint.databases`, `socket_connect_timeout=`/`socket_timeout=` in
/// `RedisEndpoint.timeouts`); the properties can be changed afterwards, and `RedisConnection`
/// and `RedisSubscriber` check them again with `validate()` before they use them.
public struct RedisEndpoint: Sendable, Hashable, CustomStringConvertible {
    /// Port numbers a URL or `port` may hold.
    public static let ports = 1...65535
    /// Database numbers a URL or `database` may hold (Redis numbers them with a C `int`).
    public static let databases = 0...Int(Int32.max)
    /// Connect and command timeouts accepted, seconds: above 0, at most a day.
    public static let timeouts = 0.001...86_400.0
    /// Replica acknowledgements a URL (`replica_acks=`) or `replicaAcks` may ask for.
    public static let replicaAckCounts = 0...16

    public var host: String
    /// TCP port, in `RedisEndpoint.ports`.
    public var port: Int
    /// A Unix socket path, used instead of host and port when set.
    public var socketPath: String?
    public var user: String?
    public var password: String?
    /// The database `SELECT`ed after connecting, in `RedisEndpoint.databases`.
    public var database: Int
    /// Connect timeout, seconds, in `RedisEndpoint.timeouts`.
    public var connectTimeout: Double
    /// Read/write timeout for every command, seconds (re-applied after each reconnect), in
    /// `RedisEndpoint.timeouts`.
    public var commandTimeout: Double

    /// For a `sentinel://` URL: the sentinels to ask for the primary, and its name. `host` and
    /// `port` then hold the first sentinel's address; every connection finds the primary through
    /// the sentinels (`SENTINEL get-master-addr-by-name`) and checks it with `ROLE`.
    public var sentinel: RedisSentinel?
    /// How many replicas must acknowledge a stored result before the worker acknowledges its task
    /// (`replica_acks=N`, Conveyor's own; 0, the default, does not wait). Redis replicates
    /// asynchronously: without it, results the primary confirmed just before it died can be
    /// missing on the replica Sentinel promotes. In `RedisEndpoint.replicaAckCounts`.
    public var replicaAcks = 0

    /// Parses a URL; throws `RedisError.Code.invalidURL` with the reason (never quoting the
    /// password): an unknown scheme, a bad escape, a port, database or timeout out of range, or
    /// for `sentinel://` lists what `RedisSentinel` refuses.
    public init(url: String) throws {
        if let chunks = RedisSentinel.chunks(of: url) {
            self = try RedisEndpoint(sentinelChunks: chunks, url: url)
            return
        }
        let parts = try URLParts(url[...], redacted: RedisEndpoint.redact(url), sentinelChunk: false)
        host = parts.host ?? "127.0.0.1"
        port = parts.port ?? 6379
        socketPath = parts.socketPath
        user = parts.user
        password = parts.password
        database = parts.database ?? 0
        connectTimeout = parts.connectTimeout ?? 5
        commandTimeout = parts.commandTimeout ?? 10
        replicaAcks = parts.replicaAcks ?? 0
    }

    /// What one URL says, each part nil when the URL does not give it.
    struct URLParts {
        var host: String?
        var port: Int?
        var socketPath: String?
        var user: String?
        var password: String?
        var database: Int?
        var connectTimeout: Double?
        var commandTimeout: Double?
        /// `master_name=` (read only in a sentinel list, ignored in other URLs as before).
        var masterName: String?
        var replicaAcks: Int?

        /// - Parameters:
        ///   - url: one URL (one element of a sentinel list).
        ///   - redacted: the whole text as errors may quote it.
        ///   - sentinelChunk: the scheme must be `sentinel` (and `redis`, `unix` are refused).
        init(_ url: Substring, redacted: String, sentinelChunk: Bool) throws {
            let expected = sentinelChunk ? "sentinel://host:port" : "redis://host:port/db"
            func invalid(_ why: String) -> RedisError { RedisError(.invalidURL, "invalid Redis URL \(redacted): \(why)") }
            func decoded(_ text: Substring, _ part: String) throws -> String {
                do {
                    return try PercentDecoding.decode(text)
                } catch {
                    throw invalid("bad percent-encoding in \(part): \(error)")
                }
            }
            // Values are not quoted in errors: in a malformed URL they may hold part of a password.
            func databaseNumber(_ text: Substring) throws -> Int {
                guard let db = Int(text), RedisEndpoint.databases.contains(db) else {
                    throw invalid("the database must be a number in 0...2147483647")
                }
                return db
            }
            func timeout(_ text: Substring, _ key: Substring) throws -> Double {
                guard let v = Double(text), RedisEndpoint.timeouts.contains(v) else { throw invalid("\(key) must be seconds in 0.001...86400") }
                return v
            }
            // Not a scheme word before "://" (it may hold a password): nothing of it is quoted.
            guard startsWithScheme(url), let schemeEnd = url.range(of: "://") else { throw invalid("expected \(expected)") }
            let scheme = url[..<schemeEnd.lowerBound].lowercased()
            var rest = url[schemeEnd.upperBound...]
            var query = Substring("")
            if let q = rest.firstIndex(of: "?") {
                query = rest[rest.index(after: q)...]
                rest = rest[..<q]
            }
            switch (scheme, sentinelChunk) {
            case ("redis", false), ("sentinel", true):
                var path: Substring = ""
                if let slash = rest.firstIndex(of: "/") {
                    path = rest[rest.index(after: slash)...]
                    rest = rest[..<slash]
                }
                if let at = rest.lastIndex(of: "@") {
                    let info = rest[..<at]
                    rest = rest[rest.index(after: at)...]
                    if let colon = info.firstIndex(of: ":") {
                        let u = info[..<colon]
                        user = u.isEmpty ? nil : try decoded(u, "user")
                        password = try decoded(info[info.index(after: colon)...], "password")
                    } else if !info.isEmpty {
                        password = try decoded(info, "password")
                    }
                }
                if let colon = rest.lastIndex(of: ":") {
                    guard let p = Int(rest[rest.index(after: colon)...]), RedisEndpoint.ports.contains(p) else {
                        throw invalid("the port is not a number in 1...65535")
                    }
                    port = p
                    rest = rest[..<colon]
                }
                if !rest.isEmpty { host = String(rest) }
                if !path.isEmpty { database = try databaseNumber(path) }
            case ("unix", false), ("redis+socket", false):
                guard !rest.isEmpty else { throw invalid("missing socket path") }
                socketPath = String(rest)
            case ("rediss", _):
                throw invalid("TLS (rediss://) is not supported by hiredis 0.14; use a loopback or Unix-socket connection")
            case (_, true):
                throw invalid("every address of a sentinel list must be sentinel://host:port, not '\(scheme)://'")
            default:
                throw invalid("unsupported scheme '\(scheme)'")
            }
            for pair in query.split(separator: "&") {
                // A pair starts with its key: `=password=x` has an empty key, not the key `password`
                // (redaction masks `password=` pairs only).
                let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
                guard parts.count == 2, !parts[1].isEmpty else { continue }
                switch parts[0] {
                case "db": database = try databaseNumber(parts[1])
                case "password": password = try decoded(parts[1], "password")
                case "socket_connect_timeout": connectTimeout = try timeout(parts[1], parts[0])
                case "socket_timeout": commandTimeout = try timeout(parts[1], parts[0])
                case "master_name" where sentinelChunk: masterName = try decoded(parts[1], "master_name")
                case "replica_acks":
                    guard let n = Int(parts[1]), RedisEndpoint.replicaAckCounts.contains(n) else { throw invalid("replica_acks must be a number in 0...16") }
                    replicaAcks = n
                default: break
                }
            }
        }
    }

    /// The URL with the password replaced by `***`.
    public var description: String {
        let auth = password == nil ? "" : "\(user ?? ""):***@"
        if let sentinel { return sentinel.description(auth: auth, database: database, replicaAcks: replicaAcks) }
        if let socketPath { return "unix://\(socketPath)?db=\(database)" }
        return "redis://\(auth)\(host):\(port)/\(database)" + (replicaAcks > 0 ? "?replica_acks=\(replicaAcks)" : "")
    }

    /// Checks what may have been changed since parsing: `port`, `database` and the timeouts in
    /// their ranges (`ports`, `databases`, `timeouts`), a host or socket path.
    /// `RedisConnection` and `RedisSubscriber` call it, so no number reaches hiredis unchecked.
    /// - Throws: `RedisError.Code.invalidURL` naming the property and its range.
    public func validate() throws {
        func invalid(_ why: String) -> RedisError { RedisError(.invalidURL, "Redis endpoint \(self): \(why)") }
        if let sentinel {
            guard socketPath == nil else { throw invalid("a sentinel endpoint cannot have a socket path") }
            if let problem = sentinel.problem { throw invalid(problem) }
        }
        if let socketPath {
            guard !socketPath.isEmpty else { throw invalid("the socket path is empty") }
        } else {
            guard !host.isEmpty else { throw invalid("the host is empty") }
            guard RedisEndpoint.ports.contains(port) else { throw invalid("port must be in 1...65535, not \(port)") }
        }
        guard RedisEndpoint.databases.contains(database) else { throw invalid("database must be in 0...2147483647, not \(database)") }
        guard RedisEndpoint.replicaAckCounts.contains(replicaAcks) else { throw invalid("replicaAcks must be in 0...16, not \(replicaAcks)") }
        guard RedisEndpoint.timeouts.contains(connectTimeout) else {
            throw invalid("connectTimeout must be seconds in 0.001...86400, not \(connectTimeout)")
        }
        guard RedisEndpoint.timeouts.contains(commandTimeout) else {
            throw invalid("commandTimeout must be seconds in 0.001...86400, not \(commandTimeout)")
        }
    }

    /// Replaces the password in a URL with `***`.
    /// A sentinel list is masked address by address when each begins with a scheme (as the
    /// parser reads it); else first as one URL (a `;` inside a password then stays masked), then
    /// address by address (a later address's `password=` is not part of the first's query).
    public static func redact(_ url: String) -> String {
        guard let chunks = RedisSentinel.chunks(of: url) else { return maskingPassword(in: url, bareInfoIsSecret: true) }
        let maskEach = { (text: String) in
            text.split(separator: ";", omittingEmptySubsequences: false)
                .map { maskingPassword(in: String($0), bareInfoIsSecret: true) }.joined(separator: ";")
        }
        if chunks.allSatisfy({ startsWithScheme($0) }) { return maskEach(url) }
        return maskEach(maskingPassword(in: url, bareInfoIsSecret: true))
    }
}
