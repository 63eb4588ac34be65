/// A lock was not taken, was lost while held, or a fencing token was refused.
public struct LockError: Error, Sendable, CustomStringConvertible {
    /// What happened. New codes may be added; match the ones you handle.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Base: String, Hashable, Sendable {
            case busy, lost, staleToken
        }
        private let base: Base
        private init(_ base: Base) { self.base = base }

        /// Someone else held the lock for the whole wait.
        public static let busy = Code(.busy)
        /// The lease ran out (or was taken over) while its holder was still working: its work
        /// may have overlapped the next holder's. A fenced resource refuses the old token.
        public static let lost = Code(.lost)
        /// A fenced resource already accepted a higher token: this holder is stale.
        public static let staleToken = Code(.staleToken)

        public var description: String { base.rawValue }
    }

    public let code: Code
    /// The lock or fenced resource.
    public let name: String
    public let message: String
    public let file: String
    public let line: Int

    public init(_ code: Code, name: String, _ message: String, file: String = #fileID, line: Int = #line) {
        self.code = code
        self.name = name
        self.message = message
        self.file = file
        self.line = line
    }

    public var description: String { message }
}
