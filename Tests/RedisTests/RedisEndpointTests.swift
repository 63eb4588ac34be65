import Redis
import Testing

@Suite("Redis URLs: parsing, refusals and redaction")
struct RedisEndpointTests {
    @Test("the documented default URL is 127.0.0.1:6379, database 0, no credentials")
    func defaults() throws {
        let endpoint = try RedisEndpoint(url: "redis://127.0.0.1:6379/0")
        #expect(endpoint.host == "127.0.0.1")
        #expect(endpoint.port == 6379)
        #expect(endpoint.database == 0)
        #expect(endpoint.user == nil)
        #expect(endpoint.password == nil)
        #expect(endpoint.socketPath == nil)
        #expect(endpoint.connectTimeout == 5)
        #expect(endpoint.commandTimeout == 10)
        #expect(endpoint.description == "redis://127.0.0.1:6379/0")
    }

    @Test("a bare redis:// URL means the local server and database 0")
    func bare() throws {
        let endpoint = try RedisEndpoint(url: "redis://")
        #expect(endpoint.host == "127.0.0.1")
        #expect(endpoint.port == 6379)
        #expect(endpoint.database == 0)
    }

    @Test("the database comes from the path or from ?db=")
    func database() throws {
        #expect(try RedisEndpoint(url: "redis://cache.internal/3").database == 3)
        #expect(try RedisEndpoint(url: "redis://cache.internal:6380/15").port == 6380)
        #expect(try RedisEndpoint(url: "redis://cache.internal?db=7").database == 7)
        #expect(try RedisEndpoint(url: "redis://cache.internal/").database == 0)
    }

    @Test("a password alone, or user and password, are read and percent-decoded")
    func credentials() throws {
        let passwordOnly = try RedisEndpoint(url: "redis://:s3cret@cache:6379/1")
        #expect(passwordOnly.user == nil)
        #expect(passwordOnly.password == "s3cret")
        #expect(passwordOnly.host == "cache")
        #expect(passwordOnly.database == 1)

        let userAndPassword = try RedisEndpoint(url: "redis://alice:p%40ss%3Aw@cache/2")
        #expect(userAndPassword.user == "alice")
        #expect(userAndPassword.password == "p@ss:w")

        let bareSecret = try RedisEndpoint(url: "redis://justasecret@cache/")
        #expect(bareSecret.user == nil)
        #expect(bareSecret.password == "justasecret")

        #expect(try RedisEndpoint(url: "redis://cache/0?password=fromquery").password == "fromquery")
    }

    @Test("unix:// and redis+socket:// name a socket path, with the database in the query")
    func unixSocket() throws {
        let endpoint = try RedisEndpoint(url: "unix:///var/run/redis/redis.sock?db=4")
        #expect(endpoint.socketPath == "/var/run/redis/redis.sock")
        #expect(endpoint.database == 4)
        #expect(endpoint.description == "unix:///var/run/redis/redis.sock?db=4")
        #expect(try RedisEndpoint(url: "redis+socket:///tmp/r.sock").socketPath == "/tmp/r.sock")
        #expect(throws: RedisError.self) { try RedisEndpoint(url: "unix://") }
    }

    @Test("timeouts come from the query")
    func timeouts() throws {
        let endpoint = try RedisEndpoint(url: "redis://cache/0?socket_connect_timeout=1.5&socket_timeout=3")
        #expect(endpoint.connectTimeout == 1.5)
        #expect(endpoint.commandTimeout == 3)
    }

    @Test("rediss:// is refused with the reason: hiredis 0.14 has no TLS")
    func tlsRefused() throws {
        let error = #expect(throws: RedisError.self) { try RedisEndpoint(url: "rediss://:pw@cache:6380/0") }
        #expect(error?.code == .invalidURL)
        #expect(error?.message.contains("TLS") == true)
        #expect(error?.message.contains("rediss://") == true)
        #expect(error?.message.contains("pw@") == false)
    }

    @Test("bad ports, databases and schemes are refused", arguments: ["redis://cache:0/0", "redis://cache:70000/0", "redis://cache:port/0",
                                                                      "redis://cache/db1", "redis://cache/-1", "redis://cache/0?db=x",
                                                                      "http://cache/0", "cache:6379"])
    func refusals(_ url: String) throws {
        let error = #expect(throws: RedisError.self) { try RedisEndpoint(url: url) }
        #expect(error?.code == .invalidURL)
    }

    @Test("description and redact never show the password, and errors quote the URL redacted")
    func redaction() throws {
        let endpoint = try RedisEndpoint(url: "redis://alice:hunter2@cache:6380/2")
        #expect(endpoint.description == "redis://alice:***@cache:6380/2")
        #expect(try RedisEndpoint(url: "redis://:hunter2@cache/0").description == "redis://:***@cache:6379/0")
        #expect(RedisEndpoint.redact("redis://alice:hunter2@cache:6380/2") == "redis://alice:***@cache:6380/2")
        #expect(RedisEndpoint.redact("redis://hunter2@cache/0") == "redis://***@cache/0")
        #expect(RedisEndpoint.redact("redis://cache:6379/0") == "redis://cache:6379/0")
        let error = #expect(throws: RedisError.self) { try RedisEndpoint(url: "redis://alice:hunter2@cache:notaport/0") }
        #expect(error?.message.contains("hunter2") == false)
        #expect(error?.message.contains("redis://alice:***@cache:notaport/0") == true)
    }

    @Test("a malformed URL never shows the password", arguments: [":s3cret@cache:6379", "redis//:s3cret@cache", "cache://s3cret@x",
                                                                     "redis://cache:x/0?password=s3cret", "redis://cache/0?socket_timeout=1e300&password=s3cret"])
    func malformedURLsAreRedacted(url: String) throws {
        #expect(!RedisEndpoint.redact(url).contains("s3"))
        let error = #expect(throws: RedisError.self) { try RedisEndpoint(url: url) }
        #expect(error?.message.contains("s3") == false, "\(error?.message ?? "")")
    }
}
