/// An error from the Redis layer. Match on `code`; read `message` for the one-line reason.
public struct RedisError: Error, Sendable, CustomStringConvertible {
    /// What kind of failure this is. New codes may be added.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Base: String, Hashable, Sendable {
            case invalidURL, connectionFailed, connectionLost, unavailable, server, noScript, closed, protocolError, notReplicated
        }
        private let base: Base
        private init(_ base: Base) { self.base = base }

        /// The Redis URL could not be parsed or asks for something hiredis 0.14 cannot do.
        public static let invalidURL = Code(.invalidURL)
        /// Connect, AUTH or SELECT failed.
        public static let connectionFailed = Code(.connectionFailed)
        /// The connection died while the command was in flight: it may or may not have run.
        public static let connectionLost = Code(.connectionLost)
        /// No connection came up before the command's deadline: it did not run.
        public static let unavailable = Code(.unavailable)
        /// Redis answered with an error reply.
        public static let server = Code(.server)
        /// EVALSHA named a script Redis does not have (handled inside `evaluate`).
        public static let noScript = Code(.noScript)
        /// The connection was closed by its owner.
        public static let closed = Code(.closed)
        /// A reply of an unexpected shape.
        public static let protocolError = Code(.protocolError)
        /// A write ran on the primary, but fewer replicas than asked (`replica_acks`) confirmed
        /// it in time: a failover now could lose it.
        public static let notReplicated = Code(.notReplicated)

        public var description: String { base.rawValue }
    }

    public let code: Code
    /// One line saying what happened, with credentials redacted.
    public let message: String
    public let file: String
    public let line: Int

    public init(_ code: Code, _ message: String, file: String = #fileID, line: Int = #line) {
        self.code = code
        self.message = message
        self.file = file
        self.line = line
    }

    public var description: String { message }
}
