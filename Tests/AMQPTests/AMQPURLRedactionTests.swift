import AMQP
import Testing

/// Found by `ops/fuzz amqp-url`: the list splitter took a comma in a password for the end of a
/// URL whenever the user name held an `@` (an e-mail address as user name), so `redact` masked
/// neither half while `AMQPEndpoint(url:)` read the whole as one URL with that password. And a
/// password holding both an `@` and a comma is cut by the splitter whatever it does; `redact`
/// masks what a parser taking the whole text as one URL reads too.
@Suite("Broker URL redaction hides every password a parser reads")
struct AMQPURLRedactionTests {
    @Test("a user name with an @ and a password with a comma: one URL, password masked",
          arguments: ["amqp://alice@example.com:se,cret@rabbit/", "amqp://@ra]guest:se,cret@ra]bbi1/t, amqp://b:pbpyamqp://"])
    func emailUserAndCommaPassword(url: String) throws {
        let endpoint = try AMQPEndpoint(url: url)
        #expect(endpoint.password == "se,cret")
        let redacted = AMQPEndpoint.redact(url)
        #expect(!redacted.contains("se,cret") && !redacted.contains("cret@"), "\(redacted)")
        #expect(try AMQPEndpoint.list(url).first?.password == "se,cret")
    }

    @Test("the fuzzer's input is redacted to the user name and hosts only")
    func fuzzerInput() {
        #expect(AMQPEndpoint.redact("amqp://@ra]guest:se,cret@ra]bbi1/t, amqp://b:pbpyamqp://")
                == "amqp://@ra]guest:***@ra]bbi1/t, amqp://b:pbpyamqp://")
        #expect(AMQPEndpoint.redact("amqp://alice@example.com:se,cret@rabbit/") == "amqp://alice@example.com:***@rabbit/")
    }

    @Test("a password holding an @ and a comma is masked whole, though the list splitter cuts it",
          arguments: ["amqp://u:p@ss,word@host/", "amqp://g\u{82}est:@wp[\u{1B}\u{0}, @\u{0}\u{0}\u{0}\u{0}\u{CC}\u{D1}"])
    func passwordWithAtAndComma(url: String) throws {
        let password = try AMQPEndpoint(url: url).password
        #expect(password.contains(","))
        let redacted = AMQPEndpoint.redact(url)
        #expect(!redacted.contains(password), "\(redacted)")
        let error = #expect(throws: AMQPError.self) { try AMQPEndpoint.list(url) }
        #expect(error?.message.contains(password) == false, "\(error?.message ?? "")")
    }

    @Test("a port before a comma still ends the URL: lists of hosts split as before")
    func portsStillSplit() throws {
        #expect(try AMQPEndpoint.list("amqp://a:pa@h1:5672/,amqp://b:pb@h2:5673/").map(\.port) == [5672, 5673])
        #expect(AMQPEndpoint.redact("amqp://a:pa@h1:5672,amqp://b:pb@h2") == "amqp://a:***@h1:5672,amqp://b:***@h2")
        // Without a scheme after the comma, a parser reads one URL whose password runs to the last @.
        #expect(AMQPEndpoint.redact("amqp://a:pa@h1:5672,b:pb@h2") == "amqp://a:***@h2")
    }
}
