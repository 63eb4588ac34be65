import AMQP

/// Broker URLs as operators type them (`--broker`, `CONVEYOR_BROKER_URL`, failover lists):
/// parsed, described and redacted. The password of a URL that parses never shows in its
/// redacted form nor in the endpoint's description.
enum AMQPURLTarget {
    static func run(_ data: [UInt8]) {
        let text = String(decoding: data, as: UTF8.self)
        let redacted = AMQPEndpoint.redact(text)
        do {
            let endpoint = try AMQPEndpoint(url: text)
            Secret.expectHidden(endpoint.password, in: text, shown: [redacted, endpoint.description],
                                besides: [endpoint.user, endpoint.host, endpoint.vhost])
        } catch {
            _ = "\(error)"
        }
        if let endpoints = try? AMQPEndpoint.list(text) {
            for endpoint in endpoints {
                Secret.expectHidden(endpoint.password, in: text, shown: [redacted, endpoint.description],
                                    besides: [endpoint.user, endpoint.host, endpoint.vhost])
            }
        }
    }
}

/// Whether a password leaks into text meant for logs.
enum Secret {
    /// Checks that `password` shows in none of `shown`, when that can be told from the text: it
    /// is long enough to be recognised, appears once in the URL, is none of the parts a
    /// description prints (`besides`), and holds no `*` (the mask itself).
    static func expectHidden(_ password: String?, in url: String, shown: [String], besides: [String]) {
        guard let password, password.count >= 4, !password.contains("*"), occurrences(of: password, in: url) == 1,
              !besides.contains(where: { $0.contains(password) }) else { return }
        for text in shown {
            check(!text.contains(password), "the password shows in '\(text)'")
        }
    }

    private static func occurrences(of needle: String, in haystack: String) -> Int {
        haystack.split(separator: needle, omittingEmptySubsequences: false).count - 1
    }
}
