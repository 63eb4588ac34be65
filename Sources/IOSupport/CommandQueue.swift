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
    }
    private let state = Mutex(State())
    /// Wakes the owning thread when a command arrives.
    public let wakeup: Wakeup

    /// Creates an empty queue with its own wake-up pipe.
    public init() throws {
        wakeup = try Wakeup()
    }

    /// Adds a command and wakes the owner. Never blocks on I/O.
    /// - Returns: false when the owner has closed the queue (nobody will ever take it): the
    ///   caller must answer the command itself.
    @discardableResult
    public func push(_ command: Command) -> Bool {
        let accepted = state.withLock { s -> Bool in
            guard !s.closed else { return false }
            s.pending.append(command)
            return true
        }
        if accepted { wakeup.signal() }
        return accepted
    }

    /// Removes and returns everything queued, oldest first.
    public func takeAll() -> Deque<Command> {
        state.withLock { s in
            let all = s.pending
            s.pending.removeAll(keepingCapacity: true)
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
