/// An error from the AMQP layer. Match on `code`; read `message` for the one-line reason.
public struct AMQPError: Error, Sendable, CustomStringConvertible {
    /// What kind of failure this is. New codes may be added; match the ones you handle.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Base: String, Hashable, Sendable {
            case invalidURL, connectionFailed, loginRefused, connectionLost, channelClosed
            case notFound, preconditionFailed, accessRefused, resourceLocked
            case unroutable, nacked, confirmTimeout, timeout, blocked, closed, protocolError
            case messageTooLarge, invalidMessage, cancelled
        }
        private let base: Base
        private init(_ base: Base) { self.base = base }

        /// The broker URL could not be parsed.
        public static let invalidURL = Code(.invalidURL)
        /// TCP or TLS connect failed (refused, unreachable, handshake).
        public static let connectionFailed = Code(.connectionFailed)
        /// The broker refused the credentials or the virtual host.
        public static let loginRefused = Code(.loginRefused)
        /// An established connection died (socket error, missed heartbeats, broker close).
        public static let connectionLost = Code(.connectionLost)
        /// The broker closed a channel for another reason.
        public static let channelClosed = Code(.channelClosed)
        /// 404: a queue or exchange does not exist.
        public static let notFound = Code(.notFound)
        /// 406: e.g. a queue re-declared with different arguments.
        public static let preconditionFailed = Code(.preconditionFailed)
        /// 403.
        public static let accessRefused = Code(.accessRefused)
        /// 405: e.g. an exclusive queue owned by another connection.
        public static let resourceLocked = Code(.resourceLocked)
        /// A mandatory publish matched no queue (`basic.return`).
        public static let unroutable = Code(.unroutable)
        /// The broker refused to take responsibility for a message (`basic.nack`).
        public static let nacked = Code(.nacked)
        /// No confirm arrived in time; the message may or may not be in the broker.
        public static let confirmTimeout = Code(.confirmTimeout)
        /// An operation did not complete in time.
        public static let timeout = Code(.timeout)
        /// The broker blocked publishing (memory or disk alarm).
        public static let blocked = Code(.blocked)
        /// The connection was closed by its owner.
        public static let closed = Code(.closed)
        /// The peer sent something rabbitmq-c could not make sense of.
        public static let protocolError = Code(.protocolError)
        /// This message can never be sent as it is: its properties do not fit in one frame of
        /// the negotiated size, or its body is larger than the broker accepts. Only this publish
        /// fails; the connection and every other message are unaffected.
        public static let messageTooLarge = Code(.messageTooLarge)
        /// This message cannot be encoded (a short string or header name over 255 bytes). Only
        /// this publish fails.
        public static let invalidMessage = Code(.invalidMessage)
        /// The caller stopped waiting (its task was cancelled) before the broker confirmed the
        /// message: the publish goes on, and it may or may not arrive.
        public static let cancelled = Code(.cancelled)

        public var description: String { base.rawValue }
    }

    /// The kind of failure.
    public let code: Code
    /// One line saying what happened, with credentials redacted.
    public let message: String
    /// The AMQP reply code when the broker sent one (404, 406, 312 …).
    public let replyCode: UInt16?
    /// Where the error was raised.
    public let file: String
    public let line: Int

    /// - Parameters:
    ///   - code: the kind of failure.
    ///   - message: one line saying what happened.
    ///   - replyCode: the AMQP reply code, if the broker sent one.
    public init(_ code: Code, _ message: String, replyCode: UInt16? = nil, file: String = #fileID, line: Int = #line) {
        self.code = code
        self.message = message
        self.replyCode = replyCode
        self.file = file
        self.line = line
    }

    public var description: String { message }
}
