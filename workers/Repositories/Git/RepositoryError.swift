import Conveyor

/// Why a repository job could not be done.
///
/// Codes split in two: `isPermanent` ones (bad names, bad refs, missing or corrupt repositories)
/// come from the request or the data and fail the task at once, without a retry; the others
/// (git died, took too long) may go away on another attempt. Python sees `ValueError` for the
/// permanent ones and `RuntimeError` for the rest, with the message.
public struct RepositoryError: CeleryException, CustomStringConvertible, Sendable {
    /// What went wrong, as a value callers can match.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Value: String, Hashable, Sendable {
            case invalidRepository, repositoryNotFound, invalidRef, unknownRevision, corruptRepository
            case invalidArgument, gitFailed, timedOut
        }
        private let value: Value
        private init(_ value: Value) { self.value = value }

        /// The repository name is not a relative path that stays inside the root.
        public static let invalidRepository = Code(.invalidRepository)
        /// Nothing (or no git repository) is at that name.
        public static let repositoryNotFound = Code(.repositoryNotFound)
        /// The ref is empty, too long, starts with `-` or holds control characters or spaces.
        public static let invalidRef = Code(.invalidRef)
        /// The ref names no commit in the repository.
        public static let unknownRevision = Code(.unknownRevision)
        /// git could not read objects the repository should have.
        public static let corruptRepository = Code(.corruptRepository)
        /// Another argument is out of range.
        public static let invalidArgument = Code(.invalidArgument)
        /// git failed or died for a reason that may not last.
        public static let gitFailed = Code(.gitFailed)
        /// git did not answer within the time limit (it was killed).
        public static let timedOut = Code(.timedOut)

        public var description: String { value.rawValue }
    }

    public let code: Code
    public let message: String
    public let file: String
    public let line: Int

    public init(_ code: Code, _ message: String, file: String = #fileID, line: Int = #line) {
        self.code = code
        self.message = message
        self.file = file
        self.line = line
    }

    /// True when trying again cannot help: the task fails at once.
    public var isPermanent: Bool { code != .gitFailed && code != .timedOut }

    public var exceptionInfo: ExceptionInfo {
        ExceptionInfo(type: isPermanent ? "ValueError" : "RuntimeError", module: "builtins", message: message)
    }

    public var description: String { message }
}
