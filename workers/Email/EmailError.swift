import Conveyor

/// Why `email.send` did not send, or a setting the family refused.
///
/// `isRetryable` says whether another attempt may succeed: server 4xx replies, connection
/// failures, timeouts and unknown outcomes retry; bad input and 5xx replies never do.
public struct EmailError: CeleryException, Sendable, CustomStringConvertible {
    /// What went wrong. New codes may be added; match the ones you handle.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Base: String, Hashable, Sendable {
            case configuration, invalidInput, template, tooLarge, temporary, permanent, connection, unknownOutcome
        }
        private let base: Base
        private init(_ base: Base) { self.base = base }

        /// A setting of the family (URL, templates directory, limits) is wrong.
        public static let configuration = Code(.configuration)
        /// An argument is wrong: an invalid address, CR or LF in a header, a reserved header, …
        public static let invalidInput = Code(.invalidInput)
        /// The template is unknown, does not parse, or a variable it names is missing.
        public static let template = Code(.template)
        /// The message would be larger than the family allows.
        public static let tooLarge = Code(.tooLarge)
        /// The server answered 4xx: try again later.
        public static let temporary = Code(.temporary)
        /// The server answered 5xx: the mail will never go this way.
        public static let permanent = Code(.permanent)
        /// No conversation: refused, reset or timed out before the message's end.
        public static let connection = Code(.connection)
        /// The message was sent whole, then no reply came: it may or may not have been delivered.
        public static let unknownOutcome = Code(.unknownOutcome)

        public var description: String { base.rawValue }
    }

    /// What went wrong.
    public let code: Code
    /// One line for people.
    public let message: String
    /// The server's reply, when one decided the outcome (`550 5.1.1 no such user`).
    public let reply: String?
    /// Where it was made.
    public let file: String
    public let line: Int

    /// - Parameters:
    ///   - code: what went wrong.
    ///   - message: one line for people.
    ///   - reply: the server's reply that decided it, if any.
    public init(_ code: Code, _ message: String, reply: String? = nil, file: String = #fileID, line: Int = #line) {
        self.code = code
        self.message = message
        self.reply = reply
        self.file = file
        self.line = line
    }

    /// Whether a later attempt may succeed.
    public var isRetryable: Bool { [.temporary, .connection, .unknownOutcome].contains(code) }

    public var description: String { message }

    /// Raised in Python as `conveyor.email.EmailError` with the message.
    public var exceptionInfo: ExceptionInfo {
        ExceptionInfo(type: code == .permanent ? "SMTPPermanentError" : code.isInput ? "EmailInputError" : "EmailError",
                      module: "conveyor.email", arguments: [.string(message)])
    }
}

extension EmailError.Code {
    /// Bad input or configuration rather than the server's answer.
    var isInput: Bool { [.configuration, .invalidInput, .template, .tooLarge].contains(self) }
}
