@testable import Email
import Foundation
import Logging
import Testing
import TestSupport

/// The libcurl transport on its own: one SMTP session carries many messages.
@Suite("email: the SMTP transport")
struct TransportTests {
    @Test("consecutive messages on one connection share one SMTP session; a server that hung up is reconnected to")
    func connectionReused() async throws {
        let sink = try await PrivateSink()
        var options = SMTPTransport.Options()
        options.connections = 1
        let transport = try SMTPTransport(endpoint: try SMTPEndpoint(url: sink.url), options: options, logger: Logger(label: "test.smtp"))
        defer { transport.close() }
        for index in 0..<10 {
            let message = Array("Subject: \(index)\r\n\r\nbody \(index)\r\n".utf8)
            let receipt = try await transport.send(SMTPEnvelope(from: "a@example.com", recipients: ["b@example.com"], message: message))
            #expect(receipt.accepted == ["b@example.com"] && receipt.reply.hasPrefix("250"))
        }
        #expect(transport.connectionsOpened == 1)
        // drop-data makes the sink hang up mid-message: that message fails, the next one gets a new session.
        await #expect(throws: EmailError.self) {
            try await transport.send(SMTPEnvelope(from: "a@example.com", recipients: ["drop-data@example.com"], message: Array("x\r\n".utf8)))
        }
        let after = try await transport.send(SMTPEnvelope(from: "a@example.com", recipients: ["c@example.com"], message: Array("y\r\n".utf8)))
        #expect(after.accepted == ["c@example.com"])
        #expect(transport.connectionsOpened == 2)
        #expect(try sink.messages().count == 11)
    }

    @Test("with starttls=required, a server without STARTTLS gets nothing: the message is not sent in the clear")
    func startTLSRequired() async throws {
        let sink = try await PrivateSink()
        let transport = try SMTPTransport(endpoint: try SMTPEndpoint(url: sink.url + "?starttls=required"), logger: Logger(label: "test.smtp"))
        defer { transport.close() }
        let message = Array("Subject: secret\r\n\r\nsecret\r\n".utf8)
        await #expect(throws: EmailError.self) {
            try await transport.send(SMTPEnvelope(from: "a@example.com", recipients: ["b@example.com"], message: message))
        }
        #expect(try sink.messages().isEmpty)
    }
}
