import DequeModule
import Synchronization

/// The mailbox of an I/O thread: any thread pushes commands, the owning thread takes them all
/// at once after a wake-up.
///
/// This is how the rest of the process talks to a connection that only its I/O thread may
/// touch (rabbitmq-c and hiredis are not thread-safe per connection).
public final class CommandQueue<Command: Sendable>: Sendable {
    private struct State {
        var pending = Deque<Command>()
        var closed = false
        /// The owner is (about to be) blocked in poll(): the next push must wake it. Otherwise a
        /// push skips the pipe write, which under load saves a syscall and a wake-up per command.
        var sleeping = false
    }
    private let state = Mutex(State())
    /// Wakes the owning thread when a command arrives.
    public let wakeup: Wakeup

    /// Creates an empty queue with its own wake-up pipe.
    public init() throws {
        wakeup = try Wakeup()
    }

    /// Creates an empty queue that wakes its owner through `wakeup`, a pipe the owner shares
    /// with other sources (an `IOHost`'s).
    public init(wakeup: Wakeup) {
        self.wakeup = wakeup
    }

    /// Adds a command and wakes the owner. Never blocks on I/O.
    /// - Returns: false when the owner has closed the queue (nobody will ever take it): the
    ///   caller must answer the command itself.
    @discardableResult
    public func push(_ command: Command) -> Bool {
        let (accepted, wake) = state.withLock { s -> (Bool, Bool) in
            guard !s.closed else { return (false, false) }
            s.pending.append(command)
            defer { s.sleeping = false }
            return (true, s.sleeping)
        }
        if wake { wakeup.signal() }
        return accepted
    }

    /// For the owner, right before it blocks: returns false when commands are waiting (do not
    /// block), true after recording that the next push must wake it.
    public func prepareToSleep() -> Bool {
        state.withLock { s in
            guard s.pending.isEmpty && !s.closed else { return false }
            s.sleeping = true
            return true
        }
    }

    /// For the owner, right after it woke: pushes need not wake it again until the next sleep.
    /// (The owner drains the wake-up pipe itself.)
    public func woke() {
        state.withLock { $0.sleeping = false }
    }

    private func awake() {
        woke()
        wakeup.drain()
    }

    /// Blocks the owner until a command arrives, `descriptor` (its socket, if any) is readable,
    /// or `timeoutMilliseconds` pass; returns at once when commands are already waiting.
    /// - Returns: whether `descriptor` is readable.
    @discardableResult
    public func sleep(timeoutMilliseconds: Int32, orReadable descriptor: Int32? = nil) -> Bool {
        guard prepareToSleep() else { return false }
        let readable = wakeup.wait(timeoutMilliseconds: timeoutMilliseconds, orReadable: descriptor)
        awake()
        return readable
    }

    /// Removes and returns everything queued, oldest first.
    public func takeAll() -> Deque<Command> {
        state.withLock { s in
            // Handed over whole, not copied: keeping the capacity of a buffer still shared with
            // the caller's copy would copy it. The next push allocates a fresh one.
            var all = Deque<Command>()
            swap(&all, &s.pending)
            return all
        }
    }

    /// Refuses every later `push` and returns what was still queued, for the owner to fail.
    public func close() -> Deque<Command> {
        state.withLock { s in
            s.closed = true
            let all = s.pending
            s.pending.removeAll()
            return all
        }
    }

    /// Whether any command waits.
    public var isEmpty: Bool { state.withLock { $0.pending.isEmpty } }
}
