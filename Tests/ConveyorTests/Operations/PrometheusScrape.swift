import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import Testing
import TestSupport

/// One answer of a Prometheus endpoint, read as the tests need it.
struct PrometheusScrape {
    let status: Int
    let text: String

    /// GETs `url`; a server that never answers is a failure at `hangGuard`.
    static func get(_ url: String) async throws -> PrometheusScrape {
        var request = URLRequest(url: try #require(URL(string: url)))
        request.timeoutInterval = hangGuard
        let (data, response) = try await URLSession.shared.data(for: request)
        return PrometheusScrape(status: (response as? HTTPURLResponse)?.statusCode ?? 0, text: String(decoding: data, as: UTF8.self))
    }

    /// The value of the sample written exactly `series` (name and labels as the endpoint orders them).
    func value(_ series: String) -> Double? {
        for line in text.split(separator: "\n") where line.hasPrefix(series + " ") {
            return Double(line.dropFirst(series.count + 1))
        }
        return nil
    }

    /// `promtool check metrics` on this text: its exit status and what it printed. promtool
    /// missing is a failure naming what installs it (ops/test does), never a skip.
    func promtoolCheck() async throws -> (status: Int32, output: String) {
        let promtool = ["/usr/bin/promtool", "/usr/local/bin/promtool"].first { FileManager.default.isExecutableFile(atPath: $0) }
        guard let promtool else {
            throw MissingService("promtool is not installed — ops/test installs it (Debian package prometheus: apt-get install prometheus)")
        }
        let input = FileManager.default.temporaryDirectory.appendingPathComponent("conveyor-scrape-\(UUID().uuidString.prefix(8)).txt")
        try Data(text.utf8).write(to: input)
        defer { try? FileManager.default.removeItem(at: input) }
        let check = try ManagedProcess(URL(fileURLWithPath: "/bin/sh"), ["-c", "exec \"$0\" check metrics < \"$1\"", promtool, input.path],
                                       name: "promtool")
        let status = try await check.waitForExit(timeout: hangGuard)
        return (status, check.log)
    }
}

/// The address a process printed it listens on (`address=127.0.0.1:PORT` in a worker's log,
/// `http://127.0.0.1:PORT/metrics` in the exporter's first line).
func listeningPort(in log: String, after marker: String) -> Int? {
    guard let range = log.range(of: marker) else { return nil }
    let digits = log[range.upperBound...].prefix { $0.isNumber }
    return Int(digits)
}
