import Redis
import Testing

@Suite("Sentinel URLs: sentinel://HOST:PORT;sentinel://HOST:PORT/DB?master_name=NAME")
struct SentinelURLTests {
    @Test("the documented form names the sentinels in order, the primary's name and database")
    func documentedForm() throws {
        let endpoint = try RedisEndpoint(url: "sentinel://10.0.0.1:26379;sentinel://10.0.0.2:26380/3?master_name=cache")
        let sentinel = try #require(endpoint.sentinel)
        #expect(sentinel.sentinels == [.init(host: "10.0.0.1", port: 26379), .init(host: "10.0.0.2", port: 26380)])
        #expect(sentinel.masterName == "cache")
        #expect(endpoint.database == 3)
        #expect(endpoint.password == nil)
        #expect(endpoint.host == "10.0.0.1")
        #expect(endpoint.port == 26379)
        #expect(endpoint.description == "sentinel://10.0.0.1:26379;sentinel://10.0.0.2:26380/3?master_name=cache")
        try endpoint.validate()
    }

    @Test("one sentinel is a list too; a sentinel without a port is on 26379; the scheme is case-blind")
    func oneSentinel() throws {
        let endpoint = try RedisEndpoint(url: "SENTINEL://sentinel.internal?master_name=m")
        #expect(endpoint.sentinel?.sentinels == [.init(host: "sentinel.internal", port: 26379)])
        #expect(endpoint.database == 0)
    }

    @Test("the password, user and database are the primary's, given on any address, as Celery repeats them")
    func credentials() throws {
        let celery = try RedisEndpoint(url: "sentinel://:s3cret@h1:26379/2;sentinel://:s3cret@h2:26379/2?master_name=m")
        #expect(celery.password == "s3cret")
        #expect(celery.user == nil)
        #expect(celery.database == 2)
        let once = try RedisEndpoint(url: "sentinel://alice:p%40ss@h1:1;sentinel://h2:2/5?master_name=m&socket_timeout=2")
        #expect(once.user == "alice")
        #expect(once.password == "p@ss")
        #expect(once.database == 5)
        #expect(once.commandTimeout == 2)
        #expect(try RedisEndpoint(url: "sentinel://h1:1?password=fromquery&master_name=m").password == "fromquery")
        #expect(try RedisEndpoint(url: "sentinel://h1:1?master_name=m%2Dx").sentinel?.masterName == "m-x")
    }

    @Test("bad lists are refused with the reason", arguments: [
        ("sentinel://h1:26379", "master_name"),
        ("sentinel://h1:26379?master_name=", "master_name"),
        ("sentinel://h1:26379?master_name=a%20b", "space"),
        ("sentinel://h1:26379?master_name=a;sentinel://h2:26379?master_name=b", "different master_names"),
        ("sentinel://h1:0?master_name=m", "port"),
        ("sentinel://h1:70000?master_name=m", "port"),
        ("sentinel://h1:x?master_name=m", "port"),
        ("sentinel://?master_name=m", "no host"),
        ("sentinel://:26379?master_name=m", "no host"),
        ("sentinel://h1:1;;sentinel://h2:2?master_name=m", "empty"),
        ("sentinel://h1:1;?master_name=m", "sentinel://"),
        ("sentinel://h1:1;redis://h2:2?master_name=m", "sentinel://"),
        ("sentinel://h1:1;h2:2?master_name=m", "sentinel://"),
        ("sentinel://h1:1/1;sentinel://h2:2/2?master_name=m", "different databases"),
        ("sentinel://h1:1/x?master_name=m", "database"),
        ("sentinel://h1:1?master_name=m&socket_timeout=0", "socket_timeout"),
        ("sentinel://h1:1;rediss://h2:2?master_name=m", "TLS"),
    ])
    func refusals(url: String, reason: String) throws {
        let error = #expect(throws: RedisError.self) { try RedisEndpoint(url: url) }
        #expect(error?.code == .invalidURL)
        #expect(error?.message.contains(reason) == true, "\(error?.message ?? "")")
    }

    @Test("replica_acks=N asks for N replica acknowledgements, on redis:// and sentinel:// URLs alike")
    func replicaAcks() throws {
        let sentinel = try RedisEndpoint(url: "sentinel://h1:1;sentinel://h2:2/0?master_name=m&replica_acks=1")
        #expect(sentinel.replicaAcks == 1)
        #expect(sentinel.description == "sentinel://h1:1;sentinel://h2:2/0?master_name=m&replica_acks=1")
        #expect(try RedisEndpoint(url: "redis://cache/0?replica_acks=2").replicaAcks == 2)
        #expect(try RedisEndpoint(url: "redis://cache/0").replicaAcks == 0)
        for bad in ["redis://cache/0?replica_acks=-1", "redis://cache/0?replica_acks=17", "redis://cache/0?replica_acks=x",
                    "sentinel://h1:1?master_name=m&replica_acks=99999999999999999999"] {
            let error = #expect(throws: RedisError.self) { try RedisEndpoint(url: bad) }
            #expect(error?.message.contains("replica_acks") == true)
        }
        var changed = sentinel
        changed.replicaAcks = 17
        #expect(throws: RedisError.self) { try changed.validate() }
    }

    @Test("more than 16 sentinels are refused")
    func tooMany() throws {
        let list = (1...17).map { "sentinel://h\($0):26379" }.joined(separator: ";") + "?master_name=m"
        let error = #expect(throws: RedisError.self) { try RedisEndpoint(url: list) }
        #expect(error?.message.contains("at most 16 sentinels") == true)
        let sixteen = (1...16).map { "sentinel://h\($0):26379" }.joined(separator: ";") + "?master_name=m"
        #expect(try RedisEndpoint(url: sixteen).sentinel?.sentinels.count == 16)
    }

    @Test("different passwords on two addresses are refused without quoting either")
    func conflictingPasswords() throws {
        let error = #expect(throws: RedisError.self) {
            try RedisEndpoint(url: "sentinel://:alpha1@h1:1;sentinel://:bravo2@h2:2?master_name=m")
        }
        #expect(error?.message.contains("different passwords") == true)
        #expect(error?.message.contains("alpha1") == false)
        #expect(error?.message.contains("bravo2") == false)
    }

    @Test("description, redact and errors never show a password, on any address", arguments: [
        "sentinel://:s3cret@h1:26379;sentinel://h2:26379/0?master_name=m",
        "sentinel://h1:26379;sentinel://alice:s3cret@h2:26379/0?master_name=m",
        "sentinel://h1:26379;sentinel://h2:26379/0?master_name=m&password=s3cret",
        "sentinel://h1:26379?password=s3cret;sentinel://h2:26379/0?master_name=m",
    ])
    func redaction(url: String) throws {
        let endpoint = try RedisEndpoint(url: url)
        #expect(endpoint.password == "s3cret")
        #expect(!endpoint.description.contains("s3cret"), "\(endpoint.description)")
        #expect(endpoint.description.contains(":***@"))
        #expect(!RedisEndpoint.redact(url).contains("s3cret"), "\(RedisEndpoint.redact(url))")
        // The same list made invalid: the error quotes it redacted.
        let broken = url.replacingOccurrences(of: "h2:26379", with: "h2:notaport")
        let error = #expect(throws: RedisError.self) { try RedisEndpoint(url: broken) }
        #expect(error?.message.contains("s3cret") == false, "\(error?.message ?? "")")
    }

    @Test("a ';' inside a password (not percent-encoded) is refused and never shown")
    func semicolonInPassword() throws {
        for url in ["sentinel://:pa;ss@h1:1?master_name=m", "sentinel://:se;cret@h1:1;sentinel://h2:2?master_name=m"] {
            let redacted = RedisEndpoint.redact(url)
            #expect(!redacted.contains("pa;ss") && !redacted.contains("ss@") && !redacted.contains("se;"), "\(redacted)")
            let error = #expect(throws: RedisError.self) { try RedisEndpoint(url: url) }
            #expect(error?.message.contains("ss@") == false && error?.message.contains(":pa") == false, "\(error?.message ?? "")")
        }
        #expect(try RedisEndpoint(url: "sentinel://:pa%3Bss@h1:1?master_name=m").password == "pa;ss")
    }

    @Test("a sentinel endpoint changed after parsing is checked again by validate()")
    func validateChecksSentinels() throws {
        var endpoint = try RedisEndpoint(url: "sentinel://h1:1?master_name=m")
        endpoint.sentinel?.sentinels = []
        #expect(throws: RedisError.self) { try endpoint.validate() }
        endpoint.sentinel?.sentinels = [.init(host: "h", port: 0)]
        #expect(throws: RedisError.self) { try endpoint.validate() }
        endpoint.sentinel?.sentinels = [.init(host: "h", port: 1)]
        endpoint.sentinel?.masterName = ""
        #expect(throws: RedisError.self) { try endpoint.validate() }
        endpoint.sentinel?.masterName = "m"
        try endpoint.validate()
    }

    @Test("redis:// URLs read as before: a master_name there is ignored, a ';' is part of the URL")
    func redisURLsUnchanged() throws {
        let endpoint = try RedisEndpoint(url: "redis://:pa;ss@cache:6379/0?master_name=m")
        #expect(endpoint.sentinel == nil)
        #expect(endpoint.password == "pa;ss")
        #expect(RedisEndpoint.redact("redis://:pa;ss@cache:6379/0") == "redis://:***@cache:6379/0")
    }
}
