import DequeModule
import Synchronization

/// The mailbox of an I/O thread: any thread pushes commands, the owning thread takes them all
/// at once after a wake-up.
///
/// This is how the rest of the process talks to a connection that only its I/O thread may
/// touch (rabbitmq-c and hiredis are not thread-safe per connection).
public final class CommandQueue<Command: Sendable>: Sendable {
    private let pending = Mutex(Deque<Command>())
    /// Wakes the owning thread when a command arrives.
    public let wakeup: Wakeup

    /// Creates an empty queue with its own wake-up pipe.
    public init() throws {
        wakeup = try Wakeup()
    }

    /// Adds a command and wakes the owner. Never blocks on I/O.
    public func push(_ command: Command) {
        pending.withLock { $0.append(command) }
        wakeup.signal()
    }

    /// Adds several commands with one wake-up.
    public func push<S: Sequence>(contentsOf commands: S) where S.Element == Command {
        pending.withLock { $0.append(contentsOf: commands) }
        wakeup.signal()
    }

    /// Removes and returns everything queued, oldest first.
    public func takeAll() -> Deque<Command> {
        pending.withLock { queue in
            let all = queue
            queue.removeAll(keepingCapacity: true)
            return all
        }
    }

    /// Removes and returns up to `limit` commands, oldest first.
    public func take(upTo limit: Int) -> [Command] {
        pending.withLock { queue in
            let count = min(limit, queue.count)
            let taken = Array(queue.prefix(count))
            queue.removeFirst(count)
            return taken
        }
    }

    /// Whether any command waits.
    public var isEmpty: Bool { pending.withLock { $0.isEmpty } }
}
