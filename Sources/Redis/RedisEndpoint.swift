import IOSupport

/// Where a Redis server is, parsed from `redis://[user:password@]host[:port][/db]` or
/// `unix:///path/to/socket?db=N`.
///
/// hiredis 0.14 has no TLS, so `rediss://` is refused with a clear error.
public struct RedisEndpoint: Sendable, Hashable, CustomStringConvertible {
    public var host: String
    public var port: Int
    /// A Unix socket path, used instead of host and port when set.
    public var socketPath: String?
    public var user: String?
    public var password: String?
    public var database: Int
    /// Connect timeout, seconds.
    public var connectTimeout: Double
    /// Read/write timeout for every command, seconds (re-applied after each reconnect).
    public var commandTimeout: Double

    /// Parses a URL; throws `RedisError.Code.invalidURL` with the reason.
    public init(url: String) throws {
        let redacted = RedisEndpoint.redact(url)
        func invalid(_ why: String) -> RedisError { RedisError(.invalidURL, "invalid Redis URL \(redacted): \(why)") }
        // Not a scheme word before "://" (it may hold a password): nothing of it is quoted.
        guard startsWithScheme(Substring(url)), let schemeEnd = url.range(of: "://") else { throw invalid("expected redis://host:port/db") }
        let scheme = url[..<schemeEnd.lowerBound].lowercased()
        var rest = Substring(url[schemeEnd.upperBound...])
        var query = Substring("")
        if let q = rest.firstIndex(of: "?") {
            query = rest[rest.index(after: q)...]
            rest = rest[..<q]
        }
        database = 0
        connectTimeout = 5
        commandTimeout = 10
        host = "127.0.0.1"
        port = 6379
        switch scheme {
        case "redis":
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
                    user = u.isEmpty ? nil : Self.decode(u)
                    password = Self.decode(info[info.index(after: colon)...])
                } else if !info.isEmpty {
                    password = Self.decode(info)
                }
            }
            if let colon = rest.lastIndex(of: ":") {
                guard let p = Int(rest[rest.index(after: colon)...]), (1...65535).contains(p) else { throw invalid("bad port") }
                port = p
                rest = rest[..<colon]
            }
            if !rest.isEmpty { host = String(rest) }
            if !path.isEmpty {
                guard let db = Int(path), db >= 0 else { throw invalid("the database is not a number") }
                database = db
            }
        case "unix", "redis+socket":
            guard !rest.isEmpty else { throw invalid("missing socket path") }
            socketPath = String(rest)
        case "rediss":
            throw invalid("TLS (rediss://) is not supported by hiredis 0.14; use a loopback or Unix-socket connection")
        default:
            throw invalid("unsupported scheme '\(scheme)'")
        }
        for pair in query.split(separator: "&") {
            // A pair starts with its key: `=password=x` has an empty key, not the key `password`
            // (redaction masks `password=` pairs only).
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            guard parts.count == 2, !parts[1].isEmpty else { continue }
            switch parts[0] {
            case "db":
                guard let db = Int(parts[1]), db >= 0 else { throw invalid("db must be a number") }
                database = db
            case "password": password = Self.decode(parts[1])
            case "socket_connect_timeout":
                guard let v = Double(parts[1]), v > 0, v <= 86_400 else { throw invalid("socket_connect_timeout must be a number of seconds in (0, 86400]") }
                connectTimeout = v
            case "socket_timeout":
                guard let v = Double(parts[1]), v > 0, v <= 86_400 else { throw invalid("socket_timeout must be a number of seconds in (0, 86400]") }
                commandTimeout = v
            default: break
            }
        }
    }

    /// The URL with the password replaced by `***`.
    public var description: String {
        let auth = password == nil ? "" : "\(user ?? ""):***@"
        if let socketPath { return "unix://\(socketPath)?db=\(database)" }
        return "redis://\(auth)\(host):\(port)/\(database)"
    }

    /// Replaces the password in a URL with `***`.
    public static func redact(_ url: String) -> String {
        maskingPassword(in: url, bareInfoIsSecret: true)
    }

    private static func decode(_ text: Substring) -> String {
        var bytes: [UInt8] = []
        var it = text.utf8.makeIterator()
        while let b = it.next() {
            if b == UInt8(ascii: "%"), let h = it.next(), let l = it.next(),
               let v = UInt8(String(decoding: [h, l], as: UTF8.self), radix: 16) {
                bytes.append(v)
            } else {
                bytes.append(b)
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}
