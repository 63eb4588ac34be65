/// An error from Conveyor's client or worker. Match on `code`; `message` is one line for people.
public struct ConveyorError: Error, Sendable, CustomStringConvertible {
    /// What kind of failure this is. New codes may be added; match the ones you handle.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Base: String, Hashable, Sendable {
            case invalidConfiguration, brokerUnavailable, backendUnavailable, unroutable, publishFailed
            case outcomeUnknown, timeout, taskFailed, taskRevoked, invalidArguments, decodingFailed, closed
            case messageTooLarge, invalidMessage
        }
        private let base: Base
        private init(_ base: Base) { self.base = base }

        /// A URL, queue name or option is not usable.
        public static let invalidConfiguration = Code(.invalidConfiguration)
        /// RabbitMQ could not be reached (in time).
        public static let brokerUnavailable = Code(.brokerUnavailable)
        /// Redis could not be reached (in time).
        public static let backendUnavailable = Code(.backendUnavailable)
        /// The task was published to a queue that does not exist.
        public static let unroutable = Code(.unroutable)
        /// The broker refused the message.
        public static let publishFailed = Code(.publishFailed)
        /// No confirm arrived: the task may or may not have been enqueued.
        public static let outcomeUnknown = Code(.outcomeUnknown)
        /// Waiting for a result took longer than allowed.
        public static let timeout = Code(.timeout)
        /// The task ran and failed; `exception` says how.
        public static let taskFailed = Code(.taskFailed)
        /// The task was revoked or expired.
        public static let taskRevoked = Code(.taskRevoked)
        /// Arguments do not fit the task (a bad JSON value, a missing argument).
        public static let invalidArguments = Code(.invalidArguments)
        /// A stored value could not be decoded into the requested type.
        public static let decodingFailed = Code(.decodingFailed)
        /// The client or worker was closed.
        public static let closed = Code(.closed)
        /// The message can never be published as it is: its headers do not fit in one frame, or
        /// its body is larger than the broker accepts. Sending it again will not help.
        public static let messageTooLarge = Code(.messageTooLarge)
        /// The message cannot be encoded for AMQP (a property such as the task id used as
        /// correlation id is over 255 bytes). Sending it again will not help.
        public static let invalidMessage = Code(.invalidMessage)

        public var description: String { base.rawValue }
    }

    public let code: Code
    public let message: String
    /// The task's exception, for `taskFailed` and `taskRevoked`.
    public let exception: ExceptionInfo?
    /// The stored traceback, for `taskFailed`.
    public let traceback: String?
    public let file: String
    public let line: Int

    public init(_ code: Code, _ message: String, exception: ExceptionInfo? = nil, traceback: String? = nil,
                file: String = #fileID, line: Int = #line) {
        self.code = code
        self.message = message
        self.exception = exception
        self.traceback = traceback
        self.file = file
        self.line = line
    }

    public var description: String { message }
}
