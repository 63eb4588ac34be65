import AMQP
import Testing

@Suite("Broker URLs: parsing, defaults, failover lists and redaction")
struct AMQPEndpointTests {
    @Test("the documented default URL gives guest on 127.0.0.1:5672, vhost '/', heartbeat 30, timeout 5")
    func defaults() throws {
        let endpoint = try AMQPEndpoint(url: "amqp://guest:guest@127.0.0.1:5672/%2F")
        #expect(endpoint.tls == false)
        #expect(endpoint.host == "127.0.0.1")
        #expect(endpoint.port == 5672)
        #expect(endpoint.user == "guest")
        #expect(endpoint.password == "guest")
        #expect(endpoint.vhost == "/")
        #expect(endpoint.heartbeat == 30)
        #expect(endpoint.connectTimeout == 5)
        #expect(endpoint.verifyPeer == true)
        #expect(endpoint.caCertFile == nil && endpoint.certFile == nil && endpoint.keyFile == nil)
    }

    @Test("a bare URL falls back to localhost, the AMQP port and guest/guest")
    func bareURL() throws {
        let endpoint = try AMQPEndpoint(url: "amqp://")
        #expect(endpoint.host == "localhost")
        #expect(endpoint.port == 5672)
        #expect(endpoint.user == "guest")
        #expect(endpoint.password == "guest")
        #expect(endpoint.vhost == "/")
    }

    @Test("no path, an empty path and '//' all mean the default vhost '/' (as kombu reads them)",
          arguments: ["amqp://broker", "amqp://broker/", "amqp://broker//", "amqp://broker/%2F", "amqp://broker/%2f"])
    func defaultVhost(_ url: String) throws {
        #expect(try AMQPEndpoint(url: url).vhost == "/")
    }

    @Test("a named vhost is percent-decoded")
    func namedVhost() throws {
        #expect(try AMQPEndpoint(url: "amqp://broker/prod").vhost == "prod")
        #expect(try AMQPEndpoint(url: "amqp://broker/team%2Fprod").vhost == "team/prod")
        #expect(try AMQPEndpoint(url: "amqp://broker/caf%C3%A9").vhost == "café")
    }

    @Test("user and password are percent-decoded; an unencoded '@' in the password still splits at the last '@'")
    func credentials() throws {
        let encoded = try AMQPEndpoint(url: "amqp://us%40er:p%40ss%3Aw0rd%2F@broker:5673/v")
        #expect(encoded.user == "us@er")
        #expect(encoded.password == "p@ss:w0rd/")
        #expect(encoded.host == "broker")
        #expect(encoded.port == 5673)
        let raw = try AMQPEndpoint(url: "amqp://user:p@ss@broker/")
        #expect(raw.user == "user")
        #expect(raw.password == "p@ss")
        #expect(raw.host == "broker")
        let userOnly = try AMQPEndpoint(url: "amqp://alice@broker/")
        #expect(userOnly.user == "alice")
        #expect(userOnly.password == "guest")
    }

    @Test("bad percent-encoding is refused without echoing the password")
    func badPercentEncoding() throws {
        let error = #expect(throws: AMQPError.self) { try AMQPEndpoint(url: "amqp://user:secret%zz@broker/") }
        #expect(error?.code == .invalidURL)
        #expect(error?.message.contains("password") == true)
        #expect(error?.message.contains("secret") == false)
        #expect(throws: AMQPError.self) { try AMQPEndpoint(url: "amqp://broker/bad%G1vhost") }
        #expect(throws: AMQPError.self) { try AMQPEndpoint(url: "amqp://broker/%FF") }
    }

    @Test("IPv6 hosts go in brackets, with or without a port")
    func ipv6() throws {
        let withPort = try AMQPEndpoint(url: "amqp://guest:pw@[::1]:5673/")
        #expect(withPort.host == "::1")
        #expect(withPort.port == 5673)
        #expect(withPort.description == "amqp://guest@[::1]:5673/%2F")
        let withoutPort = try AMQPEndpoint(url: "amqp://[2001:db8::5]/")
        #expect(withoutPort.host == "2001:db8::5")
        #expect(withoutPort.port == 5672)
        #expect(throws: AMQPError.self) { try AMQPEndpoint(url: "amqp://[::1:5672/") }
    }

    @Test("ports outside 1...65535 or not numbers are refused", arguments: ["amqp://broker:0/", "amqp://broker:65536/",
                                                                            "amqp://broker:abc/", "amqp://broker:-1/",
                                                                            "amqp://broker:56 72/"])
    func badPorts(_ url: String) throws {
        let error = #expect(throws: AMQPError.self) { try AMQPEndpoint(url: url) }
        #expect(error?.code == .invalidURL)
        #expect(error?.message.contains("port") == true)
    }

    @Test("an empty port after the colon means the default port")
    func emptyPort() throws {
        #expect(try AMQPEndpoint(url: "amqp://broker:/").port == 5672)
        #expect(try AMQPEndpoint(url: "amqp://broker:65535/").port == 65535)
    }

    @Test("unknown schemes and URLs without a scheme are refused with a reason",
          arguments: ["http://broker/", "redis://broker/", "broker:5672", ""])
    func badSchemes(_ url: String) throws {
        let error = #expect(throws: AMQPError.self) { try AMQPEndpoint(url: url) }
        #expect(error?.code == .invalidURL)
        #expect(error?.message.contains("amqp://") == true)
    }

    @Test("kombu's scheme aliases pyamqp:// and librabbitmq:// mean plain AMQP; case and surrounding spaces do not matter")
    func aliases() throws {
        #expect(try AMQPEndpoint(url: "pyamqp://broker/").tls == false)
        #expect(try AMQPEndpoint(url: "librabbitmq://broker/").port == 5672)
        let shouted = try AMQPEndpoint(url: "  AMQP://broker:1234/v \n")
        #expect(shouted.port == 1234)
        #expect(shouted.vhost == "v")
    }

    @Test("amqps:// defaults to port 5671 with peer verification on")
    func tlsDefaults() throws {
        let endpoint = try AMQPEndpoint(url: "amqps://user:pw@broker/")
        #expect(endpoint.tls)
        #expect(endpoint.port == 5671)
        #expect(endpoint.verifyPeer)
        #expect(endpoint.description == "amqps://user@broker:5671/%2F")
    }

    @Test("TLS files and verify=false come from the query")
    func tlsQuery() throws {
        let endpoint = try AMQPEndpoint(url: "amqps://broker:6000/?cacertfile=/etc/ca.pem&certfile=/etc/c%20ert.pem&keyfile=/etc/key.pem&verify=false")
        #expect(endpoint.port == 6000)
        #expect(endpoint.caCertFile == "/etc/ca.pem")
        #expect(endpoint.certFile == "/etc/c ert.pem")
        #expect(endpoint.keyFile == "/etc/key.pem")
        #expect(endpoint.verifyPeer == false)
        #expect(try AMQPEndpoint(url: "amqps://broker/?verify=0").verifyPeer == false)
        #expect(try AMQPEndpoint(url: "amqps://broker/?verify=no").verifyPeer == false)
        #expect(try AMQPEndpoint(url: "amqps://broker/?verify=true").verifyPeer == true)
    }

    @Test("heartbeat and connection timeout come from the query; unknown kombu options are ignored")
    func queryParameters() throws {
        let endpoint = try AMQPEndpoint(url: "amqp://broker/?heartbeat=10&connection_timeout=2.5&ssl_options=x&&")
        #expect(endpoint.heartbeat == 10)
        #expect(endpoint.connectTimeout == 2.5)
        #expect(try AMQPEndpoint(url: "amqp://broker/?heartbeat=0").heartbeat == 0)
        #expect(try AMQPEndpoint(url: "amqp://broker/?connect_timeout=7").connectTimeout == 7)
        #expect(try AMQPEndpoint(url: "amqp://broker?heartbeat=5").vhost == "/")
    }

    @Test("bad heartbeat or timeout values are refused", arguments: ["amqp://broker/?heartbeat=-1", "amqp://broker/?heartbeat=ten",
                                                                    "amqp://broker/?heartbeat=1.5", "amqp://broker/?connection_timeout=0",
                                                                    "amqp://broker/?connection_timeout=soon"])
    func badQuery(_ url: String) throws {
        let error = #expect(throws: AMQPError.self) { try AMQPEndpoint(url: url) }
        #expect(error?.code == .invalidURL)
    }

    @Test("description and redact never show the password")
    func redaction() throws {
        let url = "amqp://admin:Sup3r%2Fsecret@rabbit.internal:5672/prod"
        let endpoint = try AMQPEndpoint(url: url)
        #expect(endpoint.password == "Sup3r/secret")
        #expect(endpoint.description == "amqp://admin@rabbit.internal:5672/prod")
        #expect(!endpoint.description.contains("Sup3r"))
        #expect(AMQPEndpoint.redact(url) == "amqp://admin:***@rabbit.internal:5672/prod")
        #expect(AMQPEndpoint.redact("amqp://a:one@h1/,amqps://b:two@h2/") == "amqp://a:***@h1/,amqps://b:***@h2/")
        #expect(AMQPEndpoint.redact("amqp://user:p@ss@host/") == "amqp://user:***@host/")
        #expect(AMQPEndpoint.redact("amqp://host:5672/") == "amqp://host:5672/")
        #expect(AMQPEndpoint.redact("amqp://alice@host/") == "amqp://alice@host/")
        #expect(try AMQPEndpoint(url: "amqp://broker/a%2Fb").description == "amqp://guest@broker:5672/a%2Fb")
    }

    @Test("errors about a URL quote it redacted")
    func errorsAreRedacted() throws {
        let error = #expect(throws: AMQPError.self) { try AMQPEndpoint(url: "amqp://admin:hunter2@broker:99999/") }
        #expect(error?.message.contains("hunter2") == false)
        #expect(error?.message.contains("amqp://admin:***@broker:99999/") == true)
    }

    @Test("a malformed URL, or a password with a comma, never shows the password either",
          arguments: ["guest:s3cret@127.0.0.1:5672", "amqp//guest:s3cret@127.0.0.1", "amqp:/guest:s3cret@host/",
                      "amqp://guest:s3cret@host:notaport/", "ftp://guest:s3cret@host/", "amqp://guest:s3,cret@host:x/",
                      "guest:s3cret@host/?r=http://y", "amqp://guest:s3cret@host/?connection_timeout=inf",
                      "amqp://u:s3,b/c@host:x/", "amqp://u:s3,,q@h:x/", "amqp://a:pa@h1/,b:s3@h2"])
    func malformedURLsAreRedacted(url: String) throws {
        #expect(!AMQPEndpoint.redact(url).contains("s3"))
        let error = #expect(throws: AMQPError.self) { try AMQPEndpoint.list(url) }
        #expect(error?.message.contains("s3") == false, "\(error?.message ?? "")")
        #expect(error?.message.contains("***@") == true, "\(error?.message ?? "")")
    }

    @Test("a list split over lines still fails over; a bare host after a comma is refused, not taken as part of a vhost")
    func listShapes() throws {
        let endpoints = try AMQPEndpoint.list("amqp://a:pa@r1/,\r\n amqp://b:pb@r2/")
        #expect(endpoints.map(\.host) == ["r1", "r2"])
        #expect(throws: AMQPError.self) { try AMQPEndpoint.list("amqp://a:p@h1/,h2") }
        #expect(throws: AMQPError.self) { try AMQPEndpoint.list("amqp://h1,h2") }
        #expect(try AMQPEndpoint.list("amqp://h1,amqp://h2/,").map(\.host) == ["h1", "h2"])
    }

    @Test("a comma inside a password does not split the failover list")
    func commaInPassword() throws {
        let endpoints = try AMQPEndpoint.list("amqp://guest:se,cret@rabbit1/,amqp://b:pb@rabbit2/")
        #expect(endpoints.map(\.host) == ["rabbit1", "rabbit2"])
        #expect(endpoints[0].password == "se,cret")
        #expect(AMQPEndpoint.redact("amqp://guest:se,cret@rabbit1/, amqp://b:pb@rabbit2/") == "amqp://guest:***@rabbit1/, amqp://b:***@rabbit2/")
    }

    @Test("a comma-separated list is a failover list, in order, blanks skipped")
    func failoverList() throws {
        let endpoints = try AMQPEndpoint.list(" amqp://a:pa@rabbit1:5672/%2F , amqps://b:pb@rabbit2/prod,, ")
        #expect(endpoints.count == 2)
        #expect(endpoints[0].host == "rabbit1")
        #expect(endpoints[0].user == "a")
        #expect(endpoints[0].tls == false)
        #expect(endpoints[1].host == "rabbit2")
        #expect(endpoints[1].port == 5671)
        #expect(endpoints[1].vhost == "prod")
        #expect(try AMQPEndpoint.list("amqp://only/").count == 1)
    }

    @Test("an empty failover list, or one bad entry, is refused; the error stays redacted")
    func badFailoverList() throws {
        let empty = #expect(throws: AMQPError.self) { try AMQPEndpoint.list(" , ") }
        #expect(empty?.code == .invalidURL)
        let bad = #expect(throws: AMQPError.self) { try AMQPEndpoint.list("amqp://ok/,amqp://u:topsecret@bad:0/") }
        #expect(bad?.code == .invalidURL)
        #expect(bad?.message.contains("topsecret") == false)
    }
}
