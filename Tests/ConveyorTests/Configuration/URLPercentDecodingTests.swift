import AMQP
import Redis
import Testing

/// The broker and Redis URL parsers share one percent-decoder: the same password text means the
/// same password in both, and an escape one refuses the other refuses too (Redis once read
/// `p%zzw` as `p%w` where the broker parser refused it).
@Suite("URL percent-decoding: the broker and Redis parsers agree")
struct URLPercentDecodingTests {
    /// Encoded password → decoded password, or nil where both parsers must refuse it.
    static let table: [(encoded: String, decoded: String?)] = [
        ("plain", "plain"),
        ("p%41w", "pAw"),
        ("p%4aw", "pJw"),
        ("a%25b", "a%b"),
        ("%2F%3A%40%2C", "/:@,"),
        ("caf%C3%A9", "café"),
        ("a+b", "a+b"),
        ("", ""),
        ("p%zzw", nil),
        ("p%zz", nil),
        ("p%4", nil),
        ("p%", nil),
        ("%%41", nil),
        ("p%g1", nil),
        ("%FF", nil),
        ("%C3", nil),
        ("%ED%A0%80", nil),
    ]

    /// What a parser made of a password: the decoded text, or the refusal.
    enum Outcome: Equatable {
        case password(String)
        case refused
    }

    static func amqp(_ password: String) -> Outcome {
        do {
            return .password(try AMQPEndpoint(url: "amqp://user:\(password)@broker/%2F").password)
        } catch let error as AMQPError {
            #expect(error.message.contains("percent-encoding in password"), "\(error.message)")
            return .refused
        } catch {
            Issue.record("unexpected \(error)")
            return .refused
        }
    }

    static func redis(_ password: String) -> Outcome {
        do {
            return try RedisEndpoint(url: "redis://user:\(password)@cache/0").password.map(Outcome.password) ?? .refused
        } catch let error as RedisError {
            #expect(error.message.contains("percent-encoding in password"), "\(error.message)")
            return .refused
        } catch {
            Issue.record("unexpected \(error)")
            return .refused
        }
    }

    @Test("each password of the table decodes to the same text in both parsers, or is refused by both", arguments: table.indices)
    func sameOutcome(_ index: Int) {
        let (encoded, decoded) = Self.table[index]
        let expected = decoded.map(Outcome.password) ?? .refused
        #expect(Self.amqp(encoded) == expected, "amqp: \(encoded)")
        #expect(Self.redis(encoded) == expected, "redis: \(encoded)")
    }

    @Test("the other decoded parts follow the same rule: AMQP user and virtual host, Redis user and ?password=")
    func otherParts() throws {
        #expect(throws: AMQPError.self) { try AMQPEndpoint(url: "amqp://us%zzer:pw@broker/") }
        #expect(throws: AMQPError.self) { try AMQPEndpoint(url: "amqp://broker/v%zzhost") }
        #expect(throws: RedisError.self) { try RedisEndpoint(url: "redis://us%zzer:pw@cache/0") }
        #expect(throws: RedisError.self) { try RedisEndpoint(url: "redis://cache/0?password=p%zzw") }
        #expect(try RedisEndpoint(url: "redis://cache/0?password=p%41w").password == "pAw")
        #expect(try AMQPEndpoint(url: "amqp://us%41er@broker/v%41").user == "usAer")
    }

    @Test("a refusal never quotes the password, not even the bad escape")
    func refusalsStayRedacted() {
        for url in ["amqp://user:hunter2%zz@broker/", "redis://user:hunter2%zz@cache/0", "redis://cache/0?password=hunter2%zz"] {
            do {
                if url.hasPrefix("amqp") { _ = try AMQPEndpoint(url: url) } else { _ = try RedisEndpoint(url: url) }
                Issue.record("\(url) was accepted")
            } catch {
                #expect(!"\(error)".contains("hunter2"), "\(error)")
                #expect(!"\(error)".contains("%zz"), "\(error)")
            }
        }
    }
}
