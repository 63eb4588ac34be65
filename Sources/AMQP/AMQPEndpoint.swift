import IOSupport

/// One broker address parsed from an `amqp://` or `amqps://` URL.
///
/// `amqp://user:pass@host:port/vhost?heartbeat=30&connection_timeout=5`; an empty path or `/`
/// means the default vhost `/` (as kombu reads it), `%2F` is `/`. For TLS:
/// `amqps://…?cacertfile=PATH&certfile=PATH&keyfile=PATH&verify=true`.
///
/// User, password, virtual host and query values are percent-decoded by `PercentDecoding`: a
/// `%` not followed by two hex digits is refused, never kept literally. Numbers are checked
/// where they are read (`port` in `AMQPEndpoint.ports`, `heartbeat=` in
/// `AMQPEndpoint.heartbeats`, `connection_timeout=` in `AMQPEndpoint.connectTimeouts`); the
/// properties can be changed afterwards, and `AMQPConnection` checks them again with
/// `validate()` before it uses them.
public struct AMQPEndpoint: Sendable, Hashable, CustomStringConvertible {
    /// Port numbers a URL or `port` may hold.
    public static let ports = 1...65535
    /// Heartbeats the broker can be offered, seconds: AMQP 0-9-1 carries them as a 16-bit number.
    public static let heartbeats = 0...65535
    /// Connect timeouts accepted, seconds: above 0, at most a day.
    public static let connectTimeouts = 0.001...86_400.0

    public var tls: Bool
    public var host: String
    /// TCP port, in `AMQPEndpoint.ports`.
    public var port: Int
    public var user: String
    public var password: String
    public var vhost: String
    /// Heartbeat in seconds proposed to the broker (0 turns heartbeats off), in
    /// `AMQPEndpoint.heartbeats`.
    public var heartbeat: Int
    /// TCP + TLS connect timeout, seconds, in `AMQPEndpoint.connectTimeouts`.
    public var connectTimeout: Double
    public var caCertFile: String?
    public var certFile: String?
    public var keyFile: String?
    /// Verify the broker's certificate and host name (TLS only). On unless `verify=false`.
    public var verifyPeer: Bool

    /// Parses one URL. Throws `AMQPError.Code.invalidURL` with the reason (never quoting the
    /// password): an unknown scheme, a bad escape, a port, heartbeat or timeout out of range.
    public init(url: String) throws {
        let redacted = AMQPEndpoint.redact(url)
        func invalid(_ why: String) -> AMQPError { AMQPError(.invalidURL, "invalid broker URL \(redacted): \(why)") }
        let trimmed = url.trimmingWhitespace()
        // Not a scheme word before "://" (it may hold a password): nothing of it is quoted.
        guard startsWithScheme(Substring(trimmed)), let schemeEnd = trimmed.range(of: "://") else {
            throw invalid("expected amqp://host or amqps://host")
        }
        let scheme = trimmed[..<schemeEnd.lowerBound].lowercased()
        switch scheme {
        case "amqp", "pyamqp", "librabbitmq": tls = false
        case "amqps": tls = true
        default: throw invalid("unsupported scheme '\(scheme)' (use amqp:// or amqps://)")
        }
        var rest = Substring(trimmed[schemeEnd.upperBound...])
        var query = Substring("")
        if let q = rest.firstIndex(of: "?") {
            query = rest[rest.index(after: q)...]
            rest = rest[..<q]
        }
        var path: Substring? = nil
        if let slash = rest.firstIndex(of: "/") {
            path = rest[rest.index(after: slash)...]
            rest = rest[..<slash]
        }
        var userInfo: Substring? = nil
        if let at = rest.lastIndex(of: "@") {
            userInfo = rest[..<at]
            rest = rest[rest.index(after: at)...]
        }
        user = "guest"
        password = "guest"
        func decoded(_ text: Substring, _ part: String) throws -> String {
            do {
                return try PercentDecoding.decode(text)
            } catch {
                throw invalid("bad percent-encoding in \(part): \(error)")
            }
        }
        if let userInfo {
            if let colon = userInfo.firstIndex(of: ":") {
                user = try decoded(userInfo[..<colon], "user")
                password = try decoded(userInfo[userInfo.index(after: colon)...], "password")
            } else {
                user = try decoded(userInfo, "user")
            }
        }
        var hostPart = rest
        var portPart: Substring? = nil
        if hostPart.hasPrefix("[") {
            guard let close = hostPart.firstIndex(of: "]") else { throw invalid("unterminated IPv6 address") }
            let after = hostPart[hostPart.index(after: close)...]
            if after.hasPrefix(":") { portPart = after.dropFirst() }
            hostPart = hostPart[hostPart.index(after: hostPart.startIndex)..<close]
        } else if let colon = hostPart.lastIndex(of: ":") {
            portPart = hostPart[hostPart.index(after: colon)...]
            hostPart = hostPart[..<colon]
        }
        host = hostPart.isEmpty ? "localhost" : String(hostPart)
        if let portPart, !portPart.isEmpty {
            guard let p = Int(portPart), AMQPEndpoint.ports.contains(p) else { throw invalid("the port is not a number in 1...65535") }
            port = p
        } else {
            port = tls ? 5671 : 5672
        }
        if let path, !path.isEmpty {
            vhost = try decoded(path, "virtual host")
        } else {
            vhost = "/"
        }
        heartbeat = 30
        connectTimeout = 5
        verifyPeer = true
        for pair in query.split(separator: "&") where !pair.isEmpty {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let key = String(parts[0])
            // Decoded only for the options read here: kombu's others are ignored whatever they hold.
            // Values are not quoted in errors: in a malformed URL they may hold part of a password.
            let value = { () throws in parts.count > 1 ? try decoded(parts[1], "the value of \(key)") : "" }
            switch key {
            case "heartbeat":
                guard let v = Int(try value()), AMQPEndpoint.heartbeats.contains(v) else {
                    throw invalid("heartbeat must be whole seconds in 0...65535 (0 turns heartbeats off)")
                }
                heartbeat = v
            case "connection_timeout", "connect_timeout":
                guard let v = Double(try value()), AMQPEndpoint.connectTimeouts.contains(v) else {
                    throw invalid("\(key) must be seconds in 0.001...86400")
                }
                connectTimeout = v
            case "cacertfile": caCertFile = try value()
            case "certfile": certFile = try value()
            case "keyfile": keyFile = try value()
            case "verify": verifyPeer = !["false", "0", "no"].contains(try value())
            default: break
            }
        }
    }

    /// Checks what may have been changed since parsing: `port`, `heartbeat` and
    /// `connectTimeout` in their ranges (`ports`, `heartbeats`, `connectTimeouts`), a host.
    /// `AMQPConnection.init` calls it, so no number reaches rabbitmq-c unchecked.
    /// - Throws: `AMQPError.Code.invalidURL` naming the property and its range.
    public func validate() throws {
        func invalid(_ why: String) -> AMQPError { AMQPError(.invalidURL, "broker endpoint \(self): \(why)") }
        guard !host.isEmpty else { throw invalid("the host is empty") }
        guard AMQPEndpoint.ports.contains(port) else { throw invalid("port must be in 1...65535, not \(port)") }
        guard AMQPEndpoint.heartbeats.contains(heartbeat) else {
            throw invalid("heartbeat must be whole seconds in 0...65535 (0 turns heartbeats off), not \(heartbeat)")
        }
        guard AMQPEndpoint.connectTimeouts.contains(connectTimeout) else {
            throw invalid("connectTimeout must be seconds in 0.001...86400, not \(connectTimeout)")
        }
    }

    /// Parses a comma-separated failover list (`CONVEYOR_BROKER_URL`).
    public static func list(_ urls: String) throws -> [AMQPEndpoint] {
        let parts = splitURLList(urls).map { String($0).trimmingWhitespace() }.filter { !$0.isEmpty }
        guard !parts.isEmpty else { throw AMQPError(.invalidURL, "no broker URL given") }
        return try parts.map { try AMQPEndpoint(url: $0) }
    }

    /// The URL with the password replaced by `***`, for logs and errors.
    public var description: String {
        let scheme = tls ? "amqps" : "amqp"
        let hostText = host.contains(":") ? "[\(host)]" : host
        return "\(scheme)://\(user)@\(hostText):\(port)/\(percentEncodeVhost(vhost))"
    }

    /// Replaces any password in a URL (or comma-separated list, or malformed text) with `***`.
    public static func redact(_ url: String) -> String {
        maskingPasswords(inList: url, bareInfoIsSecret: false)
    }
}

private func percentEncodeVhost(_ vhost: String) -> String {
    vhost == "/" ? "%2F" : vhost.replacingAll("/", with: "%2F")
}

extension String {
    func trimmingWhitespace() -> String {
        let scalars = unicodeScalars
        guard let start = scalars.firstIndex(where: { !$0.properties.isWhitespace }) else { return "" }
        let end = scalars.lastIndex(where: { !$0.properties.isWhitespace }) ?? start
        return String(scalars[start...end])
    }

    func replacingAll(_ target: String, with replacement: String) -> String {
        split(separator: target, omittingEmptySubsequences: false).joined(separator: replacement)
    }
}
