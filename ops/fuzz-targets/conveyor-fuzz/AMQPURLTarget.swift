import AMQP

/// Broker URLs as operators type them (`--broker`, `CONVEYOR_BROKER_URL`, failover lists):
/// parsed and redacted. The password of a URL that parses, alone or as part of a list, never
/// shows in its redacted form (which errors and logs quote).
enum AMQPURLTarget {
    static func run(_ data: [UInt8]) {
        let text = String(decoding: data, as: UTF8.self)
        let redacted = AMQPEndpoint.redact(text)
        do {
            let endpoint = try AMQPEndpoint(url: text)
            _ = endpoint.description
            Secret.expectHidden(supplied(endpoint.password), in: text, redacted: redacted,
                                besides: [endpoint.user, endpoint.host, endpoint.vhost, endpoint.caCertFile ?? "",
                                          endpoint.certFile ?? "", endpoint.keyFile ?? ""])
        } catch {
            _ = "\(error)"
        }
        if let endpoints = try? AMQPEndpoint.list(text) {
            for endpoint in endpoints {
                Secret.expectHidden(supplied(endpoint.password), in: text, redacted: redacted,
                                    besides: [endpoint.user, endpoint.host, endpoint.vhost, endpoint.caCertFile ?? "",
                                              endpoint.certFile ?? "", endpoint.keyFile ?? ""])
            }
        }
    }

    /// The password unless it is the default one, which a URL without user info gets (and which
    /// the URL may well spell elsewhere, as a host name say).
    private static func supplied(_ password: String) -> String? {
        password == "guest" ? nil : password
    }
}

/// Whether a password leaks into text meant for logs.
enum Secret {
    /// Checks that `password` does not show in `redacted`, when that can be told from the text:
    /// it is long enough to be recognised, holds no `*` (the mask), appears exactly once in the
    /// URL and in none of the parts the parser read besides it (so that occurrence is the
    /// password's own), and the URL has no percent-escapes (a decoded password need not appear in
    /// the URL as it is; another part of the URL could spell it).
    static func expectHidden(_ password: String?, in url: String, redacted: String, besides: [String]) {
        guard let password, password.utf8.count >= 4, !password.utf8.contains(UInt8(ascii: "*")),
              !url.utf8.contains(UInt8(ascii: "%")), occurrences(of: password, in: url) == 1,
              !besides.contains(where: { occurrences(of: password, in: $0) > 0 }) else { return }
        check(occurrences(of: password, in: redacted) == 0, "the password \(password.debugDescription) shows in \(redacted.debugDescription)")
    }

    /// Occurrences of `needle` in `haystack`, byte for byte (Foundation's `contains` can stop at a NUL).
    private static func occurrences(of needle: String, in haystack: String) -> Int {
        let (n, h) = (Array(needle.utf8), Array(haystack.utf8))
        guard !n.isEmpty, h.count >= n.count else { return 0 }
        return (0...(h.count - n.count)).count { h[$0..<$0 + n.count].elementsEqual(n) }
    }
}
