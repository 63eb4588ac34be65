import Foundation
import Logging
#if canImport(Glibc)
import Glibc
#endif

/// A swift-log handler that writes one `logfmt` line per event to standard error:
///
///     ts=2026-11-27T15:02:16.728Z level=info msg="task succeeded" worker=conveyor@w1 task=conveyor.add id=… runtime=0.000412
///
/// One line per task state change, easy to grep at 3 a.m. and to ship to any log system.
public struct LogfmtLogHandler: LogHandler {
    public var metadata: Logger.Metadata = [:]
    public var logLevel: Logger.Level
    private let label: String

    public init(label: String, level: Logger.Level = .info) {
        self.label = label
        self.logLevel = level
    }

    /// Installs this handler for every logger in the process.
    public static func bootstrap(level: Logger.Level) {
        LoggingSystem.bootstrap { label in LogfmtLogHandler(label: label, level: level) }
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var line = "ts=\(ISO8601.format(Date())) level=\(event.level) msg=\(Self.quote(event.message.description))"
        var merged = metadata
        if let extra = event.metadata { merged.merge(extra) { $1 } }
        for key in merged.keys.sorted(by: Self.order) {
            line += " \(key)=\(Self.quote("\(merged[key].map { "\($0)" } ?? "")"))"
        }
        line += "\n"
        // One write(2) per line, unbuffered, so the last lines before a crash are never lost;
        // a single short write is not interleaved with other threads' lines.
        var bytes = line
        bytes.withUTF8 { buffer in
            var offset = 0
            while offset < buffer.count {
                let written = write(2, buffer.baseAddress.map { $0 + offset }, buffer.count - offset)
                if written > 0 { offset += written } else if written < 0 && errno == EINTR { continue } else { break }
            }
        }
    }

    // Who and what first, details after.
    private static let leading = ["worker", "task", "id"]
    private static func order(_ a: String, _ b: String) -> Bool {
        let ia = leading.firstIndex(of: a) ?? leading.count
        let ib = leading.firstIndex(of: b) ?? leading.count
        return ia != ib ? ia < ib : a < b
    }

    static func quote(_ value: String) -> String {
        if !value.isEmpty, value.unicodeScalars.allSatisfy({ $0.value > 0x20 && $0 != "\"" && $0 != "=" && $0 != "\\" && $0.value < 0x7F }) {
            return value
        }
        var out = "\""
        for scalar in value.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }
}
