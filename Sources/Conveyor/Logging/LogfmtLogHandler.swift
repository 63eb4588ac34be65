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
            Self.appendQuoted(Self.text(value), to: &line)
        }
        line += "\n"
        LogWriter.shared.append(line)
    }

    /// Writes out every line logged so far (before exiting the process on purpose).
    public static func flush() {
        LogWriter.shared.flush()
    }

    // Who and what first, details after.
    private static func rank(_ key: String) -> Int {
        switch key {
        case "worker": 0
        case "task": 1
        case "id": 2
        default: 3
        }
    }

    private static func order(_ a: String, _ b: String) -> Bool {
        let ia = rank(a), ib = rank(b)
        return ia != ib ? ia < ib : a < b
    }

    /// A metadata value as text; strings (nearly all of them) without going through interpolation.
    private static func text(_ value: Logger.MetadataValue) -> String {
        switch value {
        case .string(let string): string
        case .stringConvertible(let convertible): convertible.description
        default: "\(value)"
        }
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
        if isBare(value) { line += value } else { line += quote(value) }
    }

    /// Printable ASCII with nothing logfmt would need to escape: written as is.
    private static func isBare(_ value: String) -> Bool {
        !value.isEmpty && value.utf8.allSatisfy { $0 > 0x20 && $0 < 0x7F && $0 != UInt8(ascii: "\"") && $0 != UInt8(ascii: "=") && $0 != UInt8(ascii: "\\") }
    }

    static func quote(_ value: String) -> String {
        if isBare(value) { return value }
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

/// Writes log lines to standard error from a thread of its own. The thread is woken once for a
/// batch, not once per line: after the first line it lets more gather for up to `linger` seconds
/// (or `batchBytes`), then writes them with one write(2). Under load that is one wake-up and one
/// system call for dozens of lines; a line reaches stderr at most `linger` late, and `flush()`
/// (called before the process exits on purpose) waits for everything.
final class LogWriter: @unchecked Sendable {
    static let shared = LogWriter()

    private let condition = NSCondition()
    // Guarded by `condition`.
    private var pending: [UInt8] = []
    private var writing = false
    private var started = false
    /// The thread waits for the first line of a batch (only then does `append` wake it).
    private var idle = false

    private static let linger = 0.002
    private static let batchBytes = 64 * 1024

    func append(_ line: String) {
        condition.lock()
        pending.append(contentsOf: line.utf8)
        if !started {
            started = true
            let thread = Thread { [unowned self] in self.run() }
            thread.name = "conveyor:log"
            thread.start()
        }
        if idle {
            idle = false
            condition.signal()
        }
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
            while pending.isEmpty {
                idle = true
                condition.wait()
            }
            idle = false
            if pending.count < Self.batchBytes { _ = condition.wait(until: Date().addingTimeInterval(Self.linger)) }
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
