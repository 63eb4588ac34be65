import Conveyor
import Email
import Foundation
import Testing
import TestSupport

/// The record keyed by Message-ID: a task delivered again after its mail was sent returns the
/// stored outcome without sending; one whose outcome was unknown sends again with the same
/// Message-ID.
@Suite("email.send: never sent twice")
struct NeverSentTwiceTests {
    @Test("the same task id delivered again returns the recorded outcome and sends nothing")
    func redeliveryAfterSentReturnsRecord() async throws {
        let harness = try await EmailHarness(label: "mail-once")
        let id = UUID().uuidString
        let first = try await harness.send(["to": "once@example.com", "template": "plain", "context": ["n": 7]], options: TaskOptions(taskId: id))
        let outcome = try await first.get(timeout: hangGuard)
        _ = try await harness.sink.waitForMessages(1)
        // The same message again, as a broker redelivery after a lost ack would bring it.
        try await harness.client.results.forget(id)
        let again = try await harness.send(["to": "once@example.com", "template": "plain", "context": ["n": 7]], options: TaskOptions(taskId: id))
        let repeated = try await again.get(timeout: hangGuard)
        let received = try harness.sink.messages()
        try await harness.stop()
        #expect(repeated == outcome)
        #expect(received.count == 1)
        #expect(harness.logs.count("mail already sent; returning its recorded outcome") == 1)
    }

    @Test("no reply after the final dot is an unknown outcome: retried, resent with the same Message-ID, counted")
    func unknownOutcomeResendsSameMessageID() async throws {
        let harness = try await EmailHarness(label: "mail-unknown")
        let address = "drop-dot-once-\(UUID().uuidString.prefix(8).lowercased())@example.com"
        let handle = try await harness.send(["to": .string(address), "template": "plain", "context": ["n": 8]])
        let result = try await handle.get(timeout: hangGuard)
        let received = try await harness.sink.waitForMessages(2)
        let record = try await harness.client.keyValues.json("email:sent:<\(handle.id)@conveyor.test>")
        try await harness.stop()
        #expect(record?["state"] == "sent" && record?["resends"] == 1, "\(record?.text() ?? "nil")")
        let ids = received.map { message in
            message["data"]?.string?.split(separator: "\r\n").first { $0.hasPrefix("Message-ID: ") }.map(String.init)
        }
        #expect(received.count == 2)
        #expect(ids == Array(repeating: "Message-ID: <\(handle.id)@conveyor.test>", count: 2))
        #expect(result["message_id"]?.string == "<\(handle.id)@conveyor.test>")
        #expect(harness.logs.count("an earlier attempt's outcome is unknown; sending again with the same Message-ID") == 1)
    }
}
