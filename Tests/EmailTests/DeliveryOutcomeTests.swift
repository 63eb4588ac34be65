import Conveyor
import Email
import Foundation
import Testing
import TestSupport

/// What the server's answers make of a task: 4xx retries, 5xx fails at once into the dead-letter
/// queue with reason smtp-permanent, a partial acceptance succeeds and reports the refused.
@Suite("email.send: outcomes of the server's replies")
struct DeliveryOutcomeTests {
    @Test("a 4xx retries (RETRY stored) and the mail goes once the server accepts it")
    func temporaryFailureRetries() async throws {
        let harness = try await EmailHarness(label: "mail-4xx")
        try harness.sink.setControl(["addresses": ["later@example.com": "451 4.7.1 greylisted, try again"]])
        let handle = try await harness.send(["to": "later@example.com", "template": "plain", "context": ["n": 1]])
        try await eventually(timeout: hangGuard, "RETRY stored") { try await harness.client.result(for: handle.id).state == .retry }
        let retry = try await harness.client.result(for: handle.id)
        #expect(retry.exception?.message.contains("451 4.7.1 greylisted") == true, "\(retry.value)")
        #expect(try harness.sink.messages().isEmpty)
        try harness.sink.setControl([:])
        let result = try await handle.get(timeout: hangGuard)
        let received = try await harness.sink.waitForMessages(1)
        try await harness.stop()
        #expect(result["accepted"] == ["later@example.com"])
        #expect(received.count == 1)
        #expect(harness.logs.count("task retry") >= 1)
    }

    @Test("a 5xx is FAILURE on the first attempt, with the server's reply, dead-lettered as smtp-permanent")
    func permanentFailureDeadLetters() async throws {
        let harness = try await EmailHarness(label: "mail-5xx")
        let refused = try await harness.send(["to": "rcpt-550-nobody@example.com", "template": "plain", "context": ["n": 1]])
        let rejectedMessage = try await harness.send(["to": "data-554@example.com", "template": "plain", "context": ["n": 2]])
        let first = try await refused.wait(timeout: hangGuard)
        let second = try await rejectedMessage.wait(timeout: hangGuard)
        try await eventually(timeout: hangGuard, "two dead letters") {
            try await DeadLetterBox(client: harness.client).count(queue: harness.worker.queue) == 2
        }
        let letters = try await DeadLetterBox(client: harness.client).list(queue: harness.worker.queue)
        let received = try harness.sink.messages()
        try await harness.stop()
        #expect(first.state == .failure && second.state == .failure)
        #expect(first.exception?.type == "SMTPPermanentError")
        #expect(first.exception?.message.contains("550 5.0.0 recipient refused") == true, "\(first.value)")
        #expect(second.exception?.message.contains("554 5.0.0 message refused") == true, "\(second.value)")
        #expect(Set(letters.compactMap(\.taskId)) == [refused.id, rejectedMessage.id])
        #expect(letters.allSatisfy { $0.reason == EmailJobs.permanentReason })
        let retries = harness.logs.all.filter { $0.message == "task retry" }.map { "\($0.metadata["error"] ?? "?")" }
        #expect(retries.isEmpty, "retried: \(retries)")
        #expect(received.isEmpty)
    }

    @Test("some recipients refused: the rest get the mail, the refused are reported with the server's reply")
    func partialAcceptance() async throws {
        let harness = try await EmailHarness(label: "mail-partial")
        let handle = try await harness.send(["to": ["ann@example.com", "rcpt-550-gone@example.com", "cy@example.net"],
                                             "template": "plain", "context": ["n": 3]])
        let result = try await handle.get(timeout: hangGuard)
        let received = try await harness.sink.waitForMessages(1)
        try await harness.stop()
        #expect(result["accepted"] == ["ann@example.com", "cy@example.net"])
        #expect(result["rejected"]?["rcpt-550-gone@example.com"]?.string?.hasPrefix("550 5.0.0") == true, "\(result)")
        #expect(received.count == 1)
        #expect(received[0]["rcpt_tos"] == ["ann@example.com", "cy@example.net"])
    }

    @Test("a connection dropped mid-message is a retry (RETRY stored), and nothing half-sent is stored")
    func droppedConnectionRetries() async throws {
        let harness = try await EmailHarness(label: "mail-drop")
        try harness.sink.setControl([:])
        let handle = try await harness.send(["to": ["drop-data@example.com"], "template": "plain", "context": ["n": 4]])
        // The RETRY read is kept: read again later, it may be the next run's STARTED.
        var retry: TaskResult?
        try await eventually(timeout: hangGuard, "RETRY stored") {
            let result = try await harness.client.result(for: handle.id)
            if result.state == .retry { retry = result }
            return retry != nil
        }
        #expect(try harness.sink.messages().isEmpty)
        try await harness.stop()
        #expect(retry?.exception?.type == "EmailError", "\(String(describing: retry?.value))")
    }
}
