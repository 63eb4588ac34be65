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

    @Test("a query pair with an empty key is not the password: =password=x sets nothing (the fuzzer's =======password======4 did)")
    func emptyKey() throws {
        let url = "redis://host\u{EA}d=?=======password======4&==========0=======socket_timeout=44sst&=&o"
        #expect(try RedisEndpoint(url: url).password == nil)
        #expect(try RedisEndpoint(url: "redis://host/?=password=hunter2").password == nil)
        #expect(try RedisEndpoint(url: "redis://host/?password=hunter2").password == "hunter2")
        #expect(try RedisEndpoint(url: "redis://host/?password=&db=3").password == nil)
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
