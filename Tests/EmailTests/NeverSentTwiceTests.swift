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

    @Test("two copies of one task at once (a deferral republished just before a crash): one mail; the copy that waited answers from the record")
    func concurrentCopiesSendOnce() async throws {
        let harness = try await EmailHarness(label: "mail-copies")
        // The sink stores this recipient's mail and holds its reply until the test releases it.
        let address = "hold-dot-\(UUID().uuidString.prefix(8).lowercased())@example.com"
        let id = UUID().uuidString
        let kwargs: JSONObject = ["to": .string(address), "template": "plain", "context": ["n": 9]]
        let first = try await harness.send(kwargs, options: TaskOptions(taskId: id))
        let second = try await harness.send(kwargs, options: TaskOptions(taskId: id))
        // One copy is in the server's hands; the other finds the Message-ID's lock held and defers.
        _ = try await harness.sink.waitForMessages(1)
        // Without the lock the other copy sends too: a second message reaches the sink instead.
        try await eventually(timeout: hangGuard, "the other copy deferred on the send lock, or sent") {
            try harness.logs.count("task deferred", where: "reason", is: "lock") >= 1 || harness.sink.messages().count >= 2
        }
        #expect(try harness.sink.messages().count == 1)
        try harness.sink.setControl(["release": [.string(address)]])
        let outcomes = [try await first.get(timeout: hangGuard), try await second.get(timeout: hangGuard)]
        // The deferred copy runs again when due: skipped as a duplicate of the SUCCESS, or (had
        // it come before the SUCCESS was stored) answered from the sent record.
        try await eventually(timeout: hangGuard, "the deferred copy handled") {
            harness.logs.count("task skipped") + harness.logs.count("mail already sent; returning its recorded outcome") >= 1
        }
        let received = try harness.sink.messages()
        let record = try await harness.client.keyValues.json("email:sent:<\(id)@conveyor.test>")
        try await harness.stop()
        #expect(received.count == 1)
        #expect(outcomes[0] == outcomes[1])
        #expect(record?["state"] == "sent" && record?["resends"] == 0, "\(record?.text() ?? "nil")")
    }
}
