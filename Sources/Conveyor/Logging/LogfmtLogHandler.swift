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
        // Rendered into a buffer the writer lends and takes back: no allocation per line.
        var line = LogWriter.shared.borrowLine()
        render(event, into: &line)
        LogWriter.shared.append(consume line)
    }

    /// The event's line, newline included; rendered as bytes, without a string per field.
    func render(_ event: LogEvent) -> [UInt8] {
        var line: [UInt8] = []
        line.reserveCapacity(512)
        render(event, into: &line)
        return line
    }

    /// `render`, appended to `line`.
    func render(_ event: LogEvent, into line: inout [UInt8]) {
        line.append(contentsOf: "ts=".utf8)
        Self.appendTimestamp(to: &line)
        line.append(contentsOf: " level=".utf8)
        line.append(contentsOf: event.level.rawValue.utf8)
        line.append(contentsOf: " msg=".utf8)
        Self.appendQuoted(event.message.description, to: &line)
        // Event metadata wins over the logger's; who and what first, the rest by name. The pairs
        // are sorted in temporary (stack) memory: no array per line.
        let capacity = metadata.count + (event.metadata?.count ?? 0)
        withUnsafeTemporaryAllocation(of: (key: String, value: Logger.MetadataValue).self, capacity: capacity) { buffer in
            var count = 0
            func add(_ key: String, _ value: Logger.MetadataValue) {
                buffer.initializeElement(at: count, to: (key, value))
                count += 1
            }
            for (key, value) in metadata where event.metadata?[key] == nil { add(key, value) }
            if let extra = event.metadata { for (key, value) in extra { add(key, value) } }
            var pairs = UnsafeMutableBufferPointer(rebasing: buffer[..<count])
            defer { _ = pairs.deinitialize() }
            pairs.sort { Self.order($0.key, $1.key) }
            for (key, value) in pairs {
                line.append(UInt8(ascii: " "))
                line.append(contentsOf: key.utf8)
                line.append(UInt8(ascii: "="))
                Self.appendQuoted(Self.text(value), to: &line)
            }
        }
        line.append(UInt8(ascii: "\n"))
    }

    /// Writes out every line logged so far (before exiting the process on purpose).
    public static func flush() {
        LogWriter.shared.flush()
    }

    // Who and what first, details after. By length first: a line sorts its keys with a dozen
    // comparisons, and a key of another length is never compared with these names.
    private static func rank(_ key: String) -> Int {
        switch key.utf8.count {
        case 6: key == "worker" ? 0 : 3
        case 4: key == "task" ? 1 : 3
        case 2: key == "id" ? 2 : 3
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

    /// The current UTC time as Python writes it (`2026-11-27T15:02:16.728123+00:00`); the part up
    /// to the second is kept between calls.
    private static func appendTimestamp(to line: inout [UInt8]) {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        let seconds = Int(now.tv_sec)
        let prefix = secondCache.withLock { cache -> [UInt8] in
            if cache.second == seconds { return cache.text }
            let text = ISO8601.format(Date(timeIntervalSince1970: Double(seconds))).utf8.dropLast(6)  // without "+00:00"
            cache = (seconds, Array(text))
            return cache.text
        }
        line.append(contentsOf: prefix)
        line.append(UInt8(ascii: "."))
        var micros = Int(now.tv_nsec / 1000)
        let end = line.count + 6
        line.append(contentsOf: repeatElement(UInt8(ascii: "0"), count: 6))
        for index in stride(from: end - 1, through: end - 6, by: -1) {
            line[index] = UInt8(ascii: "0") + UInt8(micros % 10)
            micros /= 10
        }
        line.append(contentsOf: "+00:00".utf8)
    }

    private static let secondCache = Mutex<(second: Int, text: [UInt8])>((-1, []))

    /// Printable ASCII without `"`, `=` or a backslash is written as is; anything else in quotes,
    /// with `"`, backslashes and newlines escaped.
    private static func appendQuoted(_ value: String, to line: inout [UInt8]) {
        // Scanned and copied through a pointer to the string's bytes: two lines per task pass
        // a dozen values each through here.
        var value = value
        value.withUTF8 { appendQuoted($0, to: &line) }
    }

    private static func appendQuoted(_ value: UnsafeBufferPointer<UInt8>, to line: inout [UInt8]) {
        var bare = !value.isEmpty, plain = true
        for byte in value {
            switch byte {
            case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "\n"):
                bare = false
                plain = false
            case UInt8(ascii: "="), ...0x20, 0x7F...:
                bare = false
            default:
                break
            }
        }
        if bare {
            line.append(contentsOf: value)
            return
        }
        line.append(UInt8(ascii: "\""))
        if plain {
            line.append(contentsOf: value)
        } else {
            for byte in value {
                switch byte {
                case UInt8(ascii: "\""): line.append(contentsOf: "\\\"".utf8)
                case UInt8(ascii: "\\"): line.append(contentsOf: "\\\\".utf8)
                case UInt8(ascii: "\n"): line.append(contentsOf: "\\n".utf8)
                default: line.append(byte)
                }
            }
        }
        line.append(UInt8(ascii: "\""))
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
    /// Line buffers given back by `append`, lent again by `borrowLine`.
    private var spareLines: [[UInt8]] = []

    /// Most line buffers kept: more than the threads that log at once.
    private static let spareLimit = 32

    private static let linger = 0.002
    private static let batchBytes = 64 * 1024

    /// An empty line buffer with room for a usual line, for `append` to take back.
    func borrowLine() -> [UInt8] {
        condition.lock()
        let line = spareLines.popLast()
        condition.unlock()
        guard let line else { return [UInt8](unsafeUninitializedCapacity: 512) { _, count in count = 0 } }
        return line
    }

    func append(_ line: consuming [UInt8]) {
        condition.lock()
        line.withUnsafeBufferPointer { pending.append(contentsOf: $0) }
        // Kept for the next line (a line of a few kilobytes is not worth keeping).
        if spareLines.count < Self.spareLimit && line.capacity <= 4096 {
            line.removeAll(keepingCapacity: true)
            spareLines.append(line)
        }
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
        // Swapped with `pending` under the lock, emptied after writing: the two buffers take
        // turns, and neither is copied or reallocated once it has grown.
        var chunk: [UInt8] = []
        while true {
            condition.lock()
            while pending.isEmpty {
                idle = true
                condition.wait()
            }
            idle = false
            if pending.count < Self.batchBytes { _ = condition.wait(until: Date().addingTimeInterval(Self.linger)) }
            swap(&chunk, &pending)
            writing = true
            condition.unlock()
            chunk.withUnsafeBufferPointer { buffer in
                var offset = 0
                while offset < buffer.count {
                    let written = write(2, buffer.baseAddress.map { $0 + offset }, buffer.count - offset)
                    if written > 0 { offset += written } else if written < 0 && errno == EINTR { continue } else { break }
                }
            }
            chunk.removeAll(keepingCapacity: true)
            condition.lock()
            writing = false
            condition.broadcast()
            condition.unlock()
        }
    }
}
