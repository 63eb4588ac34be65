import Conveyor
import Email
import Foundation
import Testing
import TestSupport

/// Per-domain limits across the fleet: over the rate or the cap, a task is deferred (PENDING,
/// no retry counted, no slot held), and it sends once the domain has room.
@Suite("email.send: per-domain limits")
struct DomainLimitTests {
    @Test("over a domain's rate the next mail is deferred (reason domain-rate); other domains are not held up")
    func rateDefers() async throws {
        let domain = "rate-\(UUID().uuidString.prefix(8).lowercased()).example"
        let harness = try await EmailHarness(label: "mail-rate") { options in
            try options.domainLimits.add("\(domain)=1/h")
        }
        let first = try await harness.send(["to": .string("a@\(domain)"), "template": "plain", "context": ["n": 1]])
        _ = try await first.get(timeout: hangGuard)
        let second = try await harness.send(["to": .string("b@\(domain)"), "template": "plain", "context": ["n": 2]])
        let other = try await harness.send(["to": "c@elsewhere.example", "template": "plain", "context": ["n": 3]])
        _ = try await other.get(timeout: hangGuard)
        try await eventually(timeout: hangGuard, "the second mail deferred") { harness.logs.count("task deferred", where: "reason", is: "domain-rate") >= 1 }
        let pending = try await harness.client.result(for: second.id)
        let received = try harness.sink.messages()
        try await harness.stop()
        #expect(pending.state == .pending)
        #expect(received.compactMap { $0["rcpt_tos"]?[0]?.string }.sorted() == ["a@\(domain)", "c@elsewhere.example"])
    }

    @Test("with the domain's concurrency cap full the mail is deferred (reason concurrency) and sent when a slot frees")
    func capDefersUntilFree() async throws {
        let domain = "cap-\(UUID().uuidString.prefix(8).lowercased()).example"
        let harness = try await EmailHarness(label: "mail-cap") { options in
            try options.domainLimits.add("\(domain)=concurrency=1")
        }
        // Another sender elsewhere in the fleet holds the domain's only slot.
        let held = try #require(try await ConcurrencyCaps(client: harness.client).tryAcquire("email:domain:\(domain)", limit: 1, lease: .seconds(300)))
        let handle = try await harness.send(["to": .string("x@\(domain)"), "template": "plain", "context": ["n": 1]])
        try await eventually(timeout: hangGuard, "the mail deferred") { harness.logs.count("task deferred", where: "reason", is: "concurrency") >= 1 }
        #expect(try harness.sink.messages().isEmpty)
        try await held.release()
        let result = try await handle.get(timeout: hangGuard)
        let received = try await harness.sink.waitForMessages(1)
        try await harness.stop()
        #expect(result["accepted"] == .array([.string("x@\(domain)")]))
        #expect(received.count == 1)
    }

    @Test("a 421 retries and backs the whole domain off: the next mail to it is deferred (reason domain-backoff)")
    func busyDomainBacksOff() async throws {
        let domain = "busy-\(UUID().uuidString.prefix(8).lowercased()).example"
        let harness = try await EmailHarness(label: "mail-421")
        try harness.sink.setControl(["domains": .object([domain: "421 4.7.0 too many connections, slow down"])])
        let first = try await harness.send(["to": .string("a@\(domain)"), "template": "plain", "context": ["n": 1]])
        try await eventually(timeout: hangGuard, "RETRY stored") { try await harness.client.result(for: first.id).state == .retry }
        let second = try await harness.send(["to": .string("b@\(domain)"), "template": "plain", "context": ["n": 2]])
        try await eventually(timeout: hangGuard, "the second mail deferred") {
            harness.logs.count("task deferred", where: "reason", is: "domain-backoff") >= 1
        }
        let pending = try await harness.client.result(for: second.id)
        let backoff = try await harness.client.keyValues.timeToLive("email:backoff:\(domain)")
        try await harness.stop()
        #expect(pending.state == .pending)
        #expect((backoff ?? 0) > 0)
        #expect(try harness.sink.messages().isEmpty)
    }

    @Test("domain limits are parsed with every number checked")
    func parsing() throws {
        var limits = DomainLimits()
        try limits.add("Example.COM=100/m,burst=10,concurrency=4")
        try limits.add("default=concurrency=2")
        #expect(limits.limit(for: "example.com").rate?.rate == "100/m")
        #expect(limits.limit(for: "example.com").rate?.burst == 10)
        #expect(limits.limit(for: "example.com").concurrency == 4)
        #expect(limits.limit(for: "other.org") == DomainLimit(concurrency: 2))
        for bad in ["example.com", "=1/s", "a.com=1/s,burst=0", "a.com=concurrency=0", "a.com=1/x", "a.com=concurrency=1e9", "a b=1/s", "a.com=fast"] {
            #expect(throws: EmailError.self, "\(bad)") { try limits.add(bad) }
        }
    }
}
