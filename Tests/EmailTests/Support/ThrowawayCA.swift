import Foundation
import TestSupport

/// A certificate authority made for one test with `openssl`, and server certificates it signs
/// for 127.0.0.1 and localhost; everything in a temporary directory removed with it.
final class ThrowawayCA: Sendable {
    let directory: URL
    /// The CA's certificate, PEM: what `cafile=` names.
    var certificate: String { directory.appendingPathComponent("ca.pem").path }

    init() async throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("conveyor-ca-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        try await Self.openssl(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=Conveyor throwaway test CA",
                                "-keyout", path("ca.key"), "-out", path("ca.pem")])
    }

    deinit { try? FileManager.default.removeItem(at: directory) }

    /// A key and a certificate for 127.0.0.1 and localhost, signed by this CA.
    /// - Returns: the sink's `--tls-cert` and `--tls-key` arguments.
    func serverCertificate(_ name: String) async throws -> [String] {
        try Data("subjectAltName=IP:127.0.0.1,DNS:localhost\n".utf8).write(to: directory.appendingPathComponent("\(name).ext"))
        try await Self.openssl(["req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=localhost",
                                "-keyout", path("\(name).key"), "-out", path("\(name).csr")])
        try await Self.openssl(["x509", "-req", "-in", path("\(name).csr"), "-CA", path("ca.pem"), "-CAkey", path("ca.key"),
                                "-CAcreateserial", "-days", "2", "-extfile", path("\(name).ext"), "-out", path("\(name).pem")])
        return ["--tls-cert", path("\(name).pem"), "--tls-key", path("\(name).key")]
    }

    private func path(_ name: String) -> String { directory.appendingPathComponent(name).path }

    private static func openssl(_ arguments: [String]) async throws {
        let process = try ManagedProcess(URL(fileURLWithPath: "/usr/bin/openssl"), arguments, name: "openssl")
        let status = try await process.waitForExit(timeout: hangGuard)
        guard status == 0 else { throw MissingService("openssl \(arguments.prefix(2).joined(separator: " ")) exited \(status): \(process.log)") }
    }
}
