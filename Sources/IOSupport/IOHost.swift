/// What a stepped I/O loop waits for before its next step: its socket turning readable (if
/// any), a command, or `milliseconds` passing (0: step again at once).
public struct IOPause: Sendable, Equatable {
    public var descriptor: Int32?
    public var milliseconds: Int32

    public init(descriptor: Int32?, milliseconds: Int32) {
        self.descriptor = descriptor
        self.milliseconds = milliseconds
    }

    /// Step again without waiting.
    public static let now = IOPause(descriptor: nil, milliseconds: 0)
}

/// A connection's I/O loop that a thread drives step by step: its own thread, or an `IOHost`
/// that interleaves it with other work. Only one thread steps it at a time.
public protocol SteppedIO: AnyObject, Sendable {
    /// Does what the connection can do now: commands, writes, every frame already readable,
    /// deadlines. It blocks only on the connection's own blocking calls (a connect, an RPC).
    /// - Returns: what to wait for before the next step; nil once the connection is closed
    ///   and will never need another step.
    func step() -> IOPause?
    /// Right before the driving thread blocks: false when commands wait (do not block), else
    /// the next command wakes the host's pipe.
    func prepareToSleep() -> Bool
    /// Right after the driving thread woke.
    func woke()
}

/// A thread that drives `SteppedIO` loops between other work, waking on one pipe for all.
public protocol IOHost: AnyObject, Sendable {
    /// The pipe the hosted loops' command queues wake the host through.
    var wakeup: Wakeup { get }
    /// Starts stepping `io` until its step returns nil.
    func host(_ io: any SteppedIO)
}
