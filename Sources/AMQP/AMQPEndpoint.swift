import IOSupport

/// One broker address parsed from an `amqp://` or `amqps://` URL.
///
/// `amqp://user:pass@host:port/vhost?heartbeat=30&connection_timeout=5`; an empty path or `/`
/// means the default vhost `/` (as kombu reads it), `%2F` is `/`. For TLS:
/// `amqps://…?cacertfile=PATH&certfile=PATH&keyfile=PATH&verify=true`.
public struct AMQPEndpoint: Sendable, Hashable, CustomStringConvertible {
    public var tls: Bool
    public var host: String
    public var port: Int
    public var user: String
    public var password: String
    public var vhost: String
    /// Heartbeat in seconds proposed to the broker (0 turns heartbeats off).
    public var heartbeat: Int
    /// TCP + TLS connect timeout, seconds.
    public var connectTimeout: Double
    public var caCertFile: String?
    public var certFile: String?
    public var keyFile: String?
    /// Verify the broker's certificate and host name (TLS only). On unless `verify=false`.
    public var verifyPeer: Bool

    /// Parses one URL. Throws `AMQPError.Code.invalidURL` with the reason.
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
        if let userInfo {
            if let colon = userInfo.firstIndex(of: ":") {
                user = try percentDecode(userInfo[..<colon]) ?? { throw invalid("bad percent-encoding in user") }()
                password = try percentDecode(userInfo[userInfo.index(after: colon)...]) ?? { throw invalid("bad percent-encoding in password") }()
            } else {
                user = try percentDecode(userInfo) ?? { throw invalid("bad percent-encoding in user") }()
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
            guard let p = Int(portPart), (1...65535).contains(p) else { throw invalid("the port is not a number in 1...65535") }
            port = p
        } else {
            port = tls ? 5671 : 5672
        }
        if let path, !path.isEmpty {
            vhost = try percentDecode(path) ?? { throw invalid("bad percent-encoding in virtual host") }()
        } else {
            vhost = "/"
        }
        heartbeat = 30
        connectTimeout = 5
        verifyPeer = true
        for pair in query.split(separator: "&") where !pair.isEmpty {
            let parts = pair.split(separator: "=", maxSplits: 1)
            let key = String(parts[0])
            let value = parts.count > 1 ? (percentDecode(parts[1]) ?? "") : ""
            switch key {
            case "heartbeat":
                guard let v = Int(value), v >= 0 else { throw invalid("heartbeat must be a whole number of seconds") }
                heartbeat = v
            case "connection_timeout", "connect_timeout":
                guard let v = Double(value), v > 0, v <= 86_400 else { throw invalid("\(key) must be a number of seconds in (0, 86400]") }
                connectTimeout = v
            case "cacertfile": caCertFile = value
            case "certfile": certFile = value
            case "keyfile": keyFile = value
            case "verify": verifyPeer = !(value == "false" || value == "0" || value == "no")
            default: break  // kombu-specific options we do not use are ignored, as kombu ignores ours
            }
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

/// Decodes `%XX` escapes; nil when an escape is malformed or the result is not UTF-8.
func percentDecode<S: StringProtocol>(_ text: S) -> String? {
    var bytes: [UInt8] = []
    var iterator = text.utf8.makeIterator()
    while let byte = iterator.next() {
        if byte == UInt8(ascii: "%") {
            guard let h = iterator.next(), let l = iterator.next(), let hi = hexValue(h), let lo = hexValue(l) else { return nil }
            bytes.append(hi << 4 | lo)
        } else {
            bytes.append(byte)
        }
    }
    return String(validating: bytes, as: UTF8.self)
}

private func hexValue(_ c: UInt8) -> UInt8? {
    switch c {
    case UInt8(ascii: "0")...UInt8(ascii: "9"): return c - UInt8(ascii: "0")
    case UInt8(ascii: "a")...UInt8(ascii: "f"): return c - UInt8(ascii: "a") + 10
    case UInt8(ascii: "A")...UInt8(ascii: "F"): return c - UInt8(ascii: "A") + 10
    default: return nil
    }
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
