import IOSupport

/// Redis behind Sentinel: the sentinels to ask, in order, and the name of the primary they watch.
///
/// Written as Celery writes its Sentinel result backend, one `sentinel://` URL per sentinel joined
/// by `;`: `sentinel://:password@10.0.0.1:26379/0;sentinel://10.0.0.2:26379/0?master_name=cache`.
/// The user, password and database are the primary's (Celery reads them from the URL too); they
/// may be given on any address of the list, and where several give one they must agree.
/// `master_name` (in the query of any address) names the primary; Celery takes it from
/// `result_backend_transport_options` instead. A sentinel without a port is on 26379.
public struct RedisSentinel: Sendable, Hashable {
    /// One sentinel's address.
    public struct Address: Sendable, Hashable, CustomStringConvertible {
        public var host: String
        /// TCP port, in `RedisEndpoint.ports`.
        public var port: Int

        public init(host: String, port: Int) {
            self.host = host
            self.port = port
        }

        public var description: String { "\(host):\(port)" }
    }

    /// Most sentinels a list may name (a deployment has three or five; more is a mistake, and
    /// every connect may ask each of them in turn).
    public static let maxSentinels = 16
    /// Longest primary name accepted.
    public static let maxNameLength = 256
    /// The port of a sentinel address that gives none.
    public static let defaultPort = 26379

    /// Asked in this order for the primary's address.
    public var sentinels: [Address]
    /// The name the sentinels know the primary by (`sentinel monitor NAME …`).
    public var masterName: String

    public init(sentinels: [Address], masterName: String) {
        self.sentinels = sentinels
        self.masterName = masterName
    }

    /// What is wrong with the settings, if anything (checked by `RedisEndpoint.validate()`).
    var problem: String? {
        if sentinels.isEmpty { return "the sentinel list is empty" }
        if sentinels.count > Self.maxSentinels { return "at most \(Self.maxSentinels) sentinels, not \(sentinels.count)" }
        if let bad = sentinels.first(where: { $0.host.isEmpty }) { return "sentinel \(bad) has no host" }
        if let bad = sentinels.first(where: { !RedisEndpoint.ports.contains($0.port) }) {
            return "sentinel port must be in 1...65535, not \(bad.port)"
        }
        return Self.nameProblem(masterName)
    }

    static func nameProblem(_ name: String) -> String? {
        if name.isEmpty { return "master_name is empty" }
        if name.utf8.count > maxNameLength { return "master_name is longer than \(maxNameLength) bytes" }
        if name.unicodeScalars.contains(where: { $0.properties.isWhitespace || $0.value < 0x20 || $0.value == 0x7F }) {
            return "master_name holds a space or control character"
        }
        return nil
    }

    /// The endpoint's URL form, with the password as `***`.
    func description(auth: String, database: Int, replicaAcks: Int) -> String {
        var text = sentinels.enumerated().map { index, address in
            "sentinel://\(index == 0 ? auth : "")\(address)"
        }.joined(separator: ";")
        text += "/\(database)?master_name=\(masterName)"
        if replicaAcks > 0 { text += "&replica_acks=\(replicaAcks)" }
        return text
    }

    /// The addresses of a `sentinel://` list split at `;`, or nil when `url` is not one.
    static func chunks(of url: String) -> [Substring]? {
        guard startsWithScheme(url[...]), let end = url.range(of: "://"), url[..<end.lowerBound].lowercased() == "sentinel" else {
            return nil
        }
        return url.split(separator: ";", omittingEmptySubsequences: false)
    }
}

extension RedisEndpoint {
    /// A `sentinel://…;sentinel://…?master_name=NAME` list, split by `RedisSentinel.chunks`.
    init(sentinelChunks chunks: [Substring], url: String) throws {
        let redacted = RedisEndpoint.redact(url)
        func invalid(_ why: String) -> RedisError { RedisError(.invalidURL, "invalid Redis URL \(redacted): \(why)") }
        guard chunks.count <= RedisSentinel.maxSentinels else {
            throw invalid("at most \(RedisSentinel.maxSentinels) sentinels, not \(chunks.count)")
        }
        var addresses: [RedisSentinel.Address] = []
        var all: [URLParts] = []
        for (index, chunk) in chunks.enumerated() {
            guard !chunk.allSatisfy(\.isWhitespace) else { throw invalid("sentinel address \(index + 1) of the list is empty") }
            let parts = try URLParts(chunk, redacted: redacted, sentinelChunk: true)
            guard let host = parts.host else { throw invalid("sentinel address \(index + 1) of the list has no host") }
            addresses.append(RedisSentinel.Address(host: host, port: parts.port ?? RedisSentinel.defaultPort))
            all.append(parts)
        }
        // The same setting given on several addresses must agree. Values are not quoted: a
        // password is a secret, and a mistyped one may be part of it.
        func agreed<T: Equatable>(_ name: String, _ value: (URLParts) -> T?) throws -> T? {
            let given = all.compactMap(value)
            guard let first = given.first else { return nil }
            guard given.allSatisfy({ $0 == first }) else { throw invalid("the addresses of the list give different \(name)s") }
            return first
        }
        guard let masterName = try agreed("master_name", \.masterName) else {
            throw invalid("missing ?master_name=NAME (the name the sentinels know the primary by)")
        }
        if let problem = RedisSentinel.nameProblem(masterName) { throw invalid(problem) }
        user = try agreed("user", \.user)
        password = try agreed("password", \.password)
        database = try agreed("database", \.database) ?? 0
        connectTimeout = try agreed("socket_connect_timeout", \.connectTimeout) ?? 5
        commandTimeout = try agreed("socket_timeout", \.commandTimeout) ?? 10
        replicaAcks = try agreed("replica_acks", \.replicaAcks) ?? 0
        host = addresses[0].host
        port = addresses[0].port
        socketPath = nil
        sentinel = RedisSentinel(sentinels: addresses, masterName: masterName)
    }
}
