import Conveyor
import Email
import Foundation
import Testing
import TestSupport

/// Bad input fails at once with a clear message: no retry, nothing sent.
@Suite("email.send: bad input")
struct BadInputTests {
    static let cases: [(kwargs: JSONObject, message: String)] = [
        (["to": "not-an-address", "template": "plain"], "to: not an address (no @): 'not-an-address'"),
        (["to": "a@b..com", "template": "plain"], "to: invalid domain"),
        (["to": "two@@example.com", "template": "plain"], "to: invalid local part"),
        (["to": "victim@example.com\r\nBcc: everyone@example.com", "template": "plain"], "to: CR or LF in an address (header injection)"),
        (["to": "Eve\n <eve@example.com>", "template": "plain"], "to: CR or LF in an address (header injection)"),
        (["to": "a@example.com", "template": "plain", "subject": "Hi\r\nBcc: everyone@example.com"], "subject: CR or LF in a header value (header injection)"),
        (["to": "a@example.com", "template": "plain", "from": "me@example.com\nBcc: x@example.com"], "from: CR or LF in an address (header injection)"),
        (["to": "a@example.com", "template": "plain", "reply_to": "x@example.com\r\n"], "reply_to: CR or LF in an address (header injection)"),
        (["to": "a@example.com", "template": "plain", "headers": ["X-Tag": "a\r\nBcc: x@example.com"]], "headers.X-Tag: CR or LF in a header value (header injection)"),
        (["to": "a@example.com", "template": "plain", "headers": ["X-Bad\r\nBcc": "x"]], "headers: invalid header name"),
        (["to": "a@example.com", "template": "plain", "headers": ["Bcc": "x@example.com"]], "headers: Bcc is set by email.send itself"),
        (["to": [], "template": "plain"], "to must name at least one recipient"),
        (["to": 5, "template": "plain"], "to must be an address or a list of addresses"),
        (["to": "a@example.com", "template": "nope"], "unknown template 'nope'"),
        (["to": "a@example.com", "template": "../plain"], "template name must be"),
        (["to": "a@example.com", "template": "broken"], "template broken.txt does not parse"),
        (["to": "a@example.com", "template": "welcome", "context": ["repo": "x"]], "template welcome: missing variables: name"),
        (["to": "a@example.com", "template": "welcome", "context": ["name": "x", "repo": .string(String(repeating: "x", count: 5000))]],
         "more than the 4096 allowed"),
        (["to": "a@example.com", "template": "plain", "context": ["n": "bad \u{FFFD} bytes"]], "context.n: text is not valid UTF-8"),
        (["to": "a@example.com", "template": "plain", "context": "text"], "context must be an object"),
        (["to": "a@example.com", "template": "plain", "cc": "x@example.com"], "unknown argument 'cc'"),
    ]

    @Test("settings out of range are refused when the service is made, naming the setting", arguments: [
        ("sendLeaseSeconds", 0), ("sendLeaseSeconds", 3601), ("domainBackoffSeconds", 0), ("sentRecordSeconds", 60),
    ])
    func settingsOutOfRange(setting: String, value: Int) throws {
        var options = EmailOptions(templates: "/nonexistent", endpoint: try SMTPEndpoint(url: "smtp://127.0.0.1:2525"),
                                   defaultFrom: try EmailAddress(parsing: "noreply@conveyor.test", role: "from"))
        switch setting {
        case "sendLeaseSeconds": options.sendLeaseSeconds = value
        case "domainBackoffSeconds": options.domainBackoffSeconds = value
        default: options.sentRecordSeconds = value
        }
        let expected = ["sendLeaseSeconds": "send lock's lease", "domainBackoffSeconds": "domain backoff",
                        "sentRecordSeconds": "sent records"][setting] ?? "?"
        #expect {
            try options.validate()
        } throws: { error in
            guard let error = error as? EmailError else { return false }
            return error.code == .configuration && error.message.contains(expected)
        }
    }

    @Test("each bad input is FAILURE with its reason, not retried, and nothing reaches the server")
    func badInputFails() async throws {
        let harness = try await EmailHarness(label: "mail-bad") { $0.maxMessageBytes = 4096 }
        var handles: [TaskHandle] = []
        for (kwargs, _) in Self.cases { handles.append(try await harness.send(kwargs)) }
        var results: [TaskResult] = []
        for handle in handles { results.append(try await handle.wait(timeout: hangGuard)) }
        let received = try harness.sink.messages()
        try await harness.stop()
        for (result, expected) in zip(results, Self.cases) {
            #expect(result.state == .failure, "\(expected.kwargs)")
            #expect(result.exception?.message.contains(expected.message) == true, "\(expected.message) ≠ \(result.exception?.message ?? "")")
        }
        #expect(harness.logs.count("task retry") == 0)
        #expect(received.isEmpty)
    }

    @Test("with missing variables set to empty, a missing variable renders as nothing")
    func missingVariablesEmpty() async throws {
        let harness = try await EmailHarness(label: "mail-empty") { $0.missingVariables = .empty }
        _ = try await harness.send(["to": "a@example.com", "template": "welcome", "context": ["repo": "x"]]).get(timeout: hangGuard)
        let received = try await harness.sink.waitForMessages(1)
        try await harness.stop()
        let mail = try await ParsedMail.parse(try #require(received[0]["data"]?.string))
        #expect(mail["subject"] == "Welcome, !")
        #expect(ParsedMail.body(mail, part: 0) == "Hello ,\n\nYour repository x was indexed.\n.a line that starts with a dot\n")
    }
}
