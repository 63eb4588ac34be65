import Foundation
import Logging
import Synchronization
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
        var line = "ts="
        line.reserveCapacity(256)
        line += Self.timestamp()
        line += " level="
        line += event.level.rawValue
        line += " msg="
        Self.appendQuoted(event.message.description, to: &line)
        // Event metadata wins over the logger's; who and what first, the rest by name.
        var pairs: [(key: String, value: Logger.MetadataValue)] = []
        pairs.reserveCapacity(metadata.count + (event.metadata?.count ?? 0))
        for (key, value) in metadata where event.metadata?[key] == nil { pairs.append((key, value)) }
        if let extra = event.metadata { for (key, value) in extra { pairs.append((key, value)) } }
        pairs.sort { Self.order($0.key, $1.key) }
        for (key, value) in pairs {
            line += " "
            line += key
            line += "="
            Self.appendQuoted("\(value)", to: &line)
        }
        line += "\n"
        LogWriter.shared.append(line)
    }

    /// Writes out every line logged so far (before exiting the process on purpose).
    public static func flush() {
        LogWriter.shared.flush()
    }

    // Who and what first, details after.
    private static let leading = ["worker", "task", "id"]
    private static func order(_ a: String, _ b: String) -> Bool {
        let ia = leading.firstIndex(of: a) ?? leading.count
        let ib = leading.firstIndex(of: b) ?? leading.count
        return ia != ib ? ia < ib : a < b
    }

    /// The current UTC time as Python writes it; the part up to the second is kept between calls.
    private static func timestamp() -> String {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        let seconds = Int(now.tv_sec)
        let prefix = secondCache.withLock { cache -> String in
            if cache.second == seconds { return cache.text }
            let text = ISO8601.format(Date(timeIntervalSince1970: Double(seconds))).dropLast(6)  // without "+00:00"
            cache = (seconds, String(text))
            return cache.text
        }
        let micros = String(now.tv_nsec / 1000)
        return prefix + "." + String(repeating: "0", count: 6 - micros.count) + micros + "+00:00"
    }

    private static let secondCache = Mutex<(second: Int, text: String)>((-1, ""))

    private static func appendQuoted(_ value: String, to line: inout String) {
        line += quote(value)
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

/// Writes log lines to standard error from a thread of its own, as soon as they come: one
/// write(2) for however many lines arrived while the previous write was under way. Under load
/// that is one system call for many lines instead of one per line, and a line waits at most for
/// the write before it.
final class LogWriter: @unchecked Sendable {
    static let shared = LogWriter()

    private let condition = NSCondition()
    // Guarded by `condition`.
    private var pending: [UInt8] = []
    private var writing = false
    private var started = false

    func append(_ line: String) {
        condition.lock()
        pending.append(contentsOf: line.utf8)
        if !started {
            started = true
            let thread = Thread { [unowned self] in self.run() }
            thread.name = "conveyor:log"
            thread.start()
        }
        condition.signal()
        condition.unlock()
    }

    /// Blocks until everything appended so far is written.
    func flush() {
        condition.lock()
        while !pending.isEmpty || writing { _ = condition.wait(until: Date().addingTimeInterval(0.05)) }
        condition.unlock()
    }

    private func run() {
        while true {
            condition.lock()
            while pending.isEmpty { condition.wait() }
            let chunk = pending
            pending.removeAll(keepingCapacity: true)
            writing = true
            condition.unlock()
            chunk.withUnsafeBufferPointer { buffer in
                var offset = 0
                while offset < buffer.count {
                    let written = write(2, buffer.baseAddress.map { $0 + offset }, buffer.count - offset)
                    if written > 0 { offset += written } else if written < 0 && errno == EINTR { continue } else { break }
                }
            }
            condition.lock()
            writing = false
            condition.broadcast()
            condition.unlock()
        }
    }
}
