import IOSupport
#if canImport(Glibc)
import Glibc
#endif

/// Where mail goes, from `CONVEYOR_SMTP_URL`: `smtp://[user:pass@]host:port[?starttls=required]`
/// (plain, or STARTTLS when asked for) or `smtps://[user:pass@]host:port` (TLS from the first
/// byte). TLS certificates and host names are always verified, against the system's CAs or,
/// with `cafile=/absolute/path.pem` (`&`-joined with the other options), that file's CAs only.
public struct SMTPEndpoint: Sendable, Hashable, CustomStringConvertible {
    /// How the connection is secured.
    public enum Security: String, Sendable, Hashable {
        /// No TLS (the local sink).
        case none
        /// STARTTLS, refusing to go on without it.
        case startTLS
        /// TLS from the start (`smtps://`, port 465).
        case implicitTLS
    }

    /// The default: the SMTP sink `ops/services` runs.
    public static let defaultURL = "smtp://127.0.0.1:2525"

    /// Host name or address.
    public let host: String
    /// 1...65535.
    public let port: Int
    /// Plain, STARTTLS or TLS from the start.
    public let security: Security
    /// Who to AUTH as, if anyone.
    public let user: String?
    let password: String?
    /// The PEM file of the CAs a TLS server's certificate must chain to (`cafile=`); nil: the system's.
    public let caFile: String?

    /// - Parameter url: `smtp://…` or `smtps://…` as above.
    /// - Throws: `EmailError.Code.configuration` naming what is wrong (the password masked).
    public init(url: String) throws {
        let masked = maskingPassword(in: url, bareInfoIsSecret: false)
        func refuse(_ why: String) -> EmailError { EmailError(.configuration, "SMTP URL \(masked): \(why)") }
        let scheme: String
        var rest: Substring
        if url.hasPrefix("smtp://") {
            scheme = "smtp"
            rest = url.dropFirst("smtp://".count)
        } else if url.hasPrefix("smtps://") {
            scheme = "smtps"
            rest = url.dropFirst("smtps://".count)
        } else {
            throw refuse("must start with smtp:// or smtps://")
        }
        var query: Substring = ""
        if let mark = rest.firstIndex(of: "?") {
            query = rest[rest.index(after: mark)...]
            rest = rest[..<mark]
        }
        if rest.hasSuffix("/") { rest = rest.dropLast() }
        guard !rest.contains("/") else { throw refuse("takes no path") }
        var user: String?
        var password: String?
        if let at = rest.lastIndex(of: "@") {
            let info = rest[..<at]
            rest = rest[rest.index(after: at)...]
            let parts = info.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false)
            do {
                user = try PercentDecoding.decode(parts[0])
                password = parts.count > 1 ? try PercentDecoding.decode(parts[1]) : nil
            } catch {
                throw refuse("user info: \(error)")
            }
        }
        guard let colon = rest.lastIndex(of: ":"), let port = Int(rest[rest.index(after: colon)...]), (1...65535).contains(port) else {
            throw refuse("needs host:port with a port in 1...65535")
        }
        let host = String(rest[..<colon])
        guard !host.isEmpty, host.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "-._[]:".contains($0)) }) else {
            throw refuse("bad host '\(host)'")
        }
        var security: Security = scheme == "smtps" ? .implicitTLS : .none
        var caFile: String?
        for item in query.split(separator: "&") where !item.isEmpty {
            switch item {
            case "starttls=required" where scheme == "smtp": security = .startTLS
            case "starttls=never" where scheme == "smtp": security = .none
            case _ where item.hasPrefix("cafile="):
                guard caFile == nil else { throw refuse("cafile given twice") }
                caFile = try Self.checkedCAFile(item.dropFirst("cafile=".count), refuse)
            default: throw refuse("unknown option '\(item)' (known: starttls=required on smtp://, cafile=/path)")
            }
        }
        if caFile != nil, security == .none { throw refuse("cafile needs TLS: smtps:// or starttls=required") }
        self.host = host
        self.port = port
        self.security = security
        self.user = user.flatMap { $0.isEmpty ? nil : $0 }
        self.password = password
        self.caFile = caFile
    }

    /// The `cafile=` value percent-decoded: an absolute path of a readable regular file.
    private static func checkedCAFile(_ raw: Substring, _ refuse: (String) -> EmailError) throws -> String {
        let path: String
        do { path = try PercentDecoding.decode(raw) } catch { throw refuse("cafile: \(error)") }
        guard path.hasPrefix("/"), path.utf8.count <= 4096, !path.contains("\0") else {
            throw refuse("cafile must be an absolute path, not '\(path)'")
        }
        var status = stat()
        guard stat(path, &status) == 0, status.st_mode & S_IFMT == S_IFREG, access(path, R_OK) == 0 else {
            throw refuse("cafile \(path) is not a readable file")
        }
        return path
    }

    /// The URL libcurl is given (no credentials: those are set apart).
    var curlURL: String { "\(security == .implicitTLS ? "smtps" : "smtp")://\(host):\(port)" }

    /// The URL with the password masked.
    public var description: String {
        let info = user.map { "\($0)\(password == nil ? "" : ":***")@" } ?? ""
        let options = (security == .startTLS ? ["starttls=required"] : []) + (caFile.map { ["cafile=\($0)"] } ?? [])
        let query = options.isEmpty ? "" : "?" + options.joined(separator: "&")
        return "\(security == .implicitTLS ? "smtps" : "smtp")://\(info)\(host):\(port)\(query)"
    }
}
