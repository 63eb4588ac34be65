import Redis

/// Redis URLs as operators type them (`--result-url`, `CONVEYOR_RESULT_URL`): parsed and
/// redacted, with the same secrecy as broker URLs.
enum RedisURLTarget {
    static func run(_ data: [UInt8]) {
        let text = String(decoding: data, as: UTF8.self)
        let redacted = RedisEndpoint.redact(text)
        do {
            let endpoint = try RedisEndpoint(url: text)
            _ = endpoint.description
            Secret.expectHidden(endpoint.password, in: text, redacted: redacted,
                                besides: [endpoint.user ?? "", endpoint.host, endpoint.socketPath ?? "", endpoint.sentinel?.masterName ?? ""]
                                    + (endpoint.sentinel?.sentinels.map(\.host) ?? []))
        } catch {
            _ = "\(error)"
        }
    }
}
