import Redis
import Testing

/// Found by `ops/fuzz redis-url`: redaction looked for the user info up to the last `@` anywhere,
/// the parser up to the last `@` before the path or query. With an `@` in the query, the password
/// the parser read stayed visible; and a mask that swallowed the `?` hid a `password=` query value
/// from the query masking.
@Suite("Redis URL redaction hides every password the parser reads")
struct RedisURLRedactionTests {
    @Test("the fuzzer's inputs", arguments: [
        ("redis://eoscnrlley@hosis?dby@hosis?db=://seconrlley@hosa", "eoscnrlley"),
        ("redis://host/?@db=5&password=hnter2&socke&soc{es1", "hnter2"),
    ])
    func fuzzerInputs(url: String, password: String) throws {
        #expect(try RedisEndpoint(url: url).password == password)
        let redacted = RedisEndpoint.redact(url)
        #expect(!redacted.contains(password), "\(redacted)")
    }

    @Test("an @ in the query leaves a bare password and a user:password masked", arguments: [
        ("redis://s3cret@cache:6379/0?client=a:b@c", "redis://***@cache:***@c"),
        ("redis://alice:s3cret@cache/0?x=y@z", "redis://alice:***@z"),
    ])
    func atInQuery(url: String, redacted: String) {
        #expect(RedisEndpoint.redact(url) == redacted)
        #expect(!RedisEndpoint.redact(url).contains("s3cret"))
    }
}
