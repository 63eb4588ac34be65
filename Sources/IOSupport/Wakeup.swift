#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A self-pipe that lets any thread wake an I/O thread blocked in `poll()`.
///
/// The read end is non-blocking and is drained on every wake-up, so many signals between two
/// polls cost one wake-up.
public final class Wakeup: @unchecked Sendable {
    /// The descriptor to include in `poll()` with `POLLIN`.
    public let readDescriptor: Int32
    private let writeDescriptor: Int32

    /// Creates the pipe; throws when the process is out of descriptors.
    public init() throws {
        var fds: [Int32] = [-1, -1]
        guard pipe(&fds) == 0 else { throw WakeupError(errno: errno) }
        for fd in fds {
            _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
            _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
        }
        readDescriptor = fds[0]
        writeDescriptor = fds[1]
    }

    deinit {
        close(readDescriptor)
        close(writeDescriptor)
    }

    /// Wakes the thread polling `readDescriptor`. Safe from any thread; never blocks.
    public func signal() {
        var byte: UInt8 = 1
        // A full pipe already guarantees a pending wake-up, so EAGAIN is fine to ignore.
        _ = write(writeDescriptor, &byte, 1)
    }

    /// Consumes pending wake-ups. Call on the polling thread after `poll()` reports `POLLIN`.
    public func drain() {
        // On the stack: drained after every wake-up, so no allocation here.
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 256) { buffer in
            while read(readDescriptor, buffer.baseAddress, buffer.count) > 0 {}
        }
    }

    /// Blocks until signalled, until `descriptor` (if any) is readable, or until
    /// `timeoutMilliseconds` pass (-1 = no limit), then drains.
    /// - Returns: whether `descriptor` is readable.
    @discardableResult
    public func wait(timeoutMilliseconds: Int32, orReadable descriptor: Int32? = nil) -> Bool {
        wait(timeoutMilliseconds: timeoutMilliseconds, orReadable: descriptor.map { [$0] } ?? [])
    }

    /// `wait` for several descriptors. - Returns: whether any of them is readable.
    @discardableResult
    public func wait(timeoutMilliseconds: Int32, orReadable descriptors: [Int32]) -> Bool {
        var fds = [pollfd(fd: readDescriptor, events: Int16(POLLIN), revents: 0)]
        for descriptor in descriptors { fds.append(pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0)) }
        guard poll(&fds, nfds_t(fds.count), timeoutMilliseconds) > 0 else { return false }
        if fds[0].revents != 0 { drain() }
        return fds.dropFirst().contains { $0.revents != 0 }
    }
}

/// The pipe for a `Wakeup` could not be created.
public struct WakeupError: Error, CustomStringConvertible {
    public let errno: Int32
    public var description: String { "cannot create wake-up pipe: \(String(cString: strerror(errno)))" }
}
