import Conveyor

/// Why the index could not be read or written (bad requests are `RepositoryError`s).
///
/// Python sees `RuntimeError` with the message. `repos.index` retries `.fileSystem` failures (a
/// full disk may be emptied); a `.damaged` file is skipped when indexing (its blobs are read again)
/// and reported when a snapshot needs it.
public struct IndexError: CeleryException, CustomStringConvertible, Sendable {
    /// What went wrong, as a value callers can match.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Value: String, Hashable, Sendable {
            case damaged, fileSystem, inconsistent
        }
        private let value: Value
        private init(_ value: Value) { self.value = value }

        /// A segment or manifest is not what it should be (truncated, not ours, wrong tables).
        public static let damaged = Code(.damaged)
        /// The index directory could not be read, written, synced or locked.
        public static let fileSystem = Code(.fileSystem)
        /// The indexer broke one of its own rules (blobs out of order, a blob it should hold missing).
        public static let inconsistent = Code(.inconsistent)

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

    public var exceptionInfo: ExceptionInfo {
        ExceptionInfo(type: "RuntimeError", module: "builtins", message: message)
    }

    public var description: String { message }
}
