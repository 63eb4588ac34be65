import Logging
import Synchronization

/// Keeps the log events of whatever logs through it, so a test can wait for an event (a
/// worker's "dead letter not published") instead of for time.
public final class LogRecorder: Sendable {
    public struct Event: Sendable {
        public let level: Logger.Level
        public let message: String
        public let metadata: Logger.Metadata
    }

    private let events = Mutex<[Event]>([])

    public init() {}

    /// A logger that records here (every level).
    public func logger(label: String) -> Logger {
        var logger = Logger(label: label) { _ in Handler(recorder: self) }
        logger.logLevel = .trace
        return logger
    }

    /// Events whose message is `message` and whose metadata has `key` = `value` (when given).
    public func count(_ message: String, where key: String? = nil, is value: String? = nil) -> Int {
        events.withLock { all in
            all.filter { event in
                guard event.message == message else { return false }
                guard let key else { return true }
                return event.metadata[key].map { "\($0)" } == value
            }.count
        }
    }

    /// Every event recorded so far, in order.
    public var all: [Event] { events.withLock { $0 } }

    fileprivate func record(_ event: Event) {
        events.withLock { $0.append(event) }
    }

    private struct Handler: LogHandler {
        let recorder: LogRecorder
        var metadata: Logger.Metadata = [:]
        var logLevel: Logger.Level = .trace

        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }

        func log(event: LogEvent) {
            let merged = metadata.merging(event.metadata ?? [:]) { $1 }
            recorder.record(Event(level: event.level, message: event.message.description, metadata: merged))
        }
    }
}
