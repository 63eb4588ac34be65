@testable import Email
import Foundation
import Logging
import Testing
import TestSupport

/// STARTTLS and implicit TLS with the server's certificate verified against a CA made for the
/// test (`cafile=` in the SMTP URL), against the project's sink speaking TLS.
@Suite("email: TLS with certificate verification")
struct TLSTests {
    static let password = "tls-pa55-\(UUID().uuidString.prefix(8))"

    /// Sends one message; returns the receipt or the error, and every log line the transport wrote.
    private static func send(_ url: String, to recipient: String) async throws -> (Result<SMTPReceipt, EmailError>, [String]) {
        let logs = LogRecorder()
        var options = SMTPTransport.Options()
        options.connections = 1
        let transport = try SMTPTransport(endpoint: try SMTPEndpoint(url: url), options: options, logger: logs.logger(label: "test.smtp.tls"))
        defer { transport.close() }
        let message = Array("Subject: over TLS\r\nMessage-ID: <\(recipient)>\r\n\r\nsealed\r\n".utf8)
        let result: Result<SMTPReceipt, EmailError>
        do {
            result = .success(try await transport.send(SMTPEnvelope(from: "a@example.com", recipients: [recipient], message: message)))
        } catch let error as EmailError {
            result = .failure(error)
        }
        return (result, logs.all.map { "\($0.message) \($0.metadata)" })
    }

    /// Neither the password nor its base64 (as AUTH LOGIN sends it) anywhere in `texts`.
    private static func expectNoPassword(_ texts: [String]) {
        let encoded = Data(password.utf8).base64EncodedString()
        for text in texts { #expect(!text.contains(password) && !text.contains(encoded), "\(text)") }
    }

    @Test("STARTTLS required: the mail goes through TLS, verified against cafile=, and arrives")
    func startTLS() async throws {
        let ca = try await ThrowawayCA()
        let sink = try await PrivateSink(arguments: try await ca.serverCertificate("server") + ["--tls", "starttls"])
        let url = "smtp://mailer:\(Self.password)@127.0.0.1:\(sink.port)?starttls=required&cafile=\(ca.certificate)"
        let (result, logs) = try await Self.send(url, to: "starttls@example.com")
        #expect(try result.get().accepted == ["starttls@example.com"])
        let received = try sink.messages()
        #expect(received.count == 1 && received.first?["tls"] == true && received.first?["rcpt_tos"] == ["starttls@example.com"])
        Self.expectNoPassword(logs)
    }

    @Test("smtps://: TLS from the first byte, verified against cafile=, and the mail arrives")
    func implicitTLS() async throws {
        let ca = try await ThrowawayCA()
        let sink = try await PrivateSink(arguments: try await ca.serverCertificate("server") + ["--tls", "implicit"])
        let url = "smtps://mailer:\(Self.password)@127.0.0.1:\(sink.port)?cafile=\(ca.certificate)"
        let (result, logs) = try await Self.send(url, to: "smtps@example.com")
        #expect(try result.get().accepted == ["smtps@example.com"])
        let received = try sink.messages()
        #expect(received.count == 1 && received.first?["tls"] == true && received.first?["rcpt_tos"] == ["smtps@example.com"])
        Self.expectNoPassword(logs)
    }

    @Test("a server certificate another CA signed is refused: nothing sent, a retryable connection error naming TLS, no password",
          arguments: ["starttls", "implicit"])
    func untrustedCertificateRefused(mode: String) async throws {
        let trusted = try await ThrowawayCA()
        let rogue = try await ThrowawayCA()
        let sink = try await PrivateSink(arguments: try await rogue.serverCertificate("rogue") + ["--tls", mode])
        let url = mode == "starttls"
            ? "smtp://mailer:\(Self.password)@127.0.0.1:\(sink.port)?starttls=required&cafile=\(trusted.certificate)"
            : "smtps://mailer:\(Self.password)@127.0.0.1:\(sink.port)?cafile=\(trusted.certificate)"
        let (result, logs) = try await Self.send(url, to: "refused@example.com")
        guard case let .failure(error) = result else {
            Issue.record("an untrusted certificate was accepted")
            return
        }
        #expect(error.code == .connection && error.isRetryable)
        #expect(error.message.contains("SMTP TLS failed, nothing sent"), "\(error.message)")
        #expect(try sink.messages().isEmpty)
        Self.expectNoPassword(logs + [error.message, "\(error.exceptionInfo.arguments)"])
    }

    @Test("cafile= is checked where the URL is read: absolute, a readable file, with TLS only, once")
    func caFileValidated() async throws {
        let ca = try await ThrowawayCA()
        let endpoint = try SMTPEndpoint(url: "smtps://u:\(Self.password)@mail.example.com:465?cafile=\(ca.certificate)")
        #expect(endpoint.caFile == ca.certificate)
        #expect(endpoint.description == "smtps://u:***@mail.example.com:465?cafile=\(ca.certificate)")
        let bad = ["smtps://u:\(Self.password)@h:465?cafile=relative/ca.pem",
                   "smtps://u:\(Self.password)@h:465?cafile=/nonexistent/\(UUID().uuidString).pem",
                   "smtps://u:\(Self.password)@h:465?cafile=\(ca.directory.path)",
                   "smtps://u:\(Self.password)@h:465?cafile=",
                   "smtp://u:\(Self.password)@h:25?cafile=\(ca.certificate)",
                   "smtps://u:\(Self.password)@h:465?cafile=\(ca.certificate)&cafile=\(ca.certificate)"]
        for url in bad {
            do {
                _ = try SMTPEndpoint(url: url)
                Issue.record("accepted \(url)")
            } catch let error as EmailError {
                #expect(error.code == .configuration && error.message.contains("cafile"), "\(error.message)")
                Self.expectNoPassword([error.message])
            }
        }
    }
}
