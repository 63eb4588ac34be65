import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Child processes without Foundation's `Process`, which has two traps on Linux: it learns
/// that a child exited through SIGCHLD, which an async `main` never sees (the main thread takes
/// the signal and discards it), and its children inherit the spawning thread's signal mask —
/// on a Swift concurrency thread nearly every signal is blocked, so the child ignores SIGTERM.
///
/// Here the child gets an empty signal mask, default signal dispositions, its own process
/// group, and the parent waits with `waitpid` on a thread of its own.
public enum Subprocess {
    /// Where a child's standard output and error go.
    public enum Output: Sendable {
        /// Inherit the parent's descriptor.
        case inherit
        /// Append to this file.
        case file(String)
        /// Write into this descriptor (e.g. a pipe's write end, closed in the child after duplication).
        case descriptor(Int32)
    }

    /// Where a child's standard input comes from.
    public enum Input: Sendable {
        /// `/dev/null`.
        case null
        /// This descriptor (e.g. a pipe's read end, closed in the child after duplication).
        case descriptor(Int32)
    }

    /// A started child.
    public struct Child: Sendable {
        public let pid: Int32

        /// Signals the child's whole process group.
        public func signal(_ signal: Int32) {
            kill(-pid, signal)
            kill(pid, signal)
        }

        /// Waits for the child to exit, on a dedicated thread; returns its exit status, or
        /// 128 + the signal number when a signal ended it (as shells report it).
        public func wait() async -> Int32 {
            let pid = self.pid
            return await withCheckedContinuation { (continuation: CheckedContinuation<Int32, Never>) in
                let thread = Thread {
                    var status: Int32 = 0
                    while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
                    let signal = status & 0x7F
                    continuation.resume(returning: signal == 0 ? (status >> 8) & 0xFF : 128 + signal)
                }
                thread.name = "conveyor:wait \(pid)"
                thread.start()
            }
        }
    }

    /// Starts `executable` (an absolute path) with `arguments`.
    /// - Parameters:
    ///   - environment: the child's whole environment; the parent's when nil.
    ///   - directory: the child's working directory (through `env -C`).
    ///   - closeOtherDescriptors: close every descriptor above 2 in the child, inherited or not.
    public static func spawn(_ executable: String, _ arguments: [String], environment: [String: String]? = nil,
                             directory: String? = nil, standardInput: Input = .null,
                             standardOutput: Output = .inherit, standardError: Output = .inherit,
                             closeOtherDescriptors: Bool = false) throws -> Child {
        var argv = [executable] + arguments
        var path = executable
        if let directory {
            path = "/usr/bin/env"
            argv = ["/usr/bin/env", "-C", directory, "--"] + argv
        }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        switch standardInput {
        case .null: posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        case let .descriptor(fd): posix_spawn_file_actions_adddup2(&actions, fd, 0)
        }
        for (target, output) in [(Int32(1), standardOutput), (Int32(2), standardError)] {
            switch output {
            case .inherit: break
            case let .file(file): posix_spawn_file_actions_addopen(&actions, target, file, O_WRONLY | O_CREAT | O_APPEND, 0o644)
            case let .descriptor(fd): posix_spawn_file_actions_adddup2(&actions, fd, target)
            }
        }
        if closeOtherDescriptors {
            // Descriptors opened elsewhere without close-on-exec (Foundation's file writes, other
            // threads' pipes) would otherwise live as long as a long-lived child does.
            _ = closeFrom?(&actions, 3)
        }
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var empty = sigset_t()
        sigemptyset(&empty)
        posix_spawnattr_setsigmask(&attributes, &empty)
        var defaults = sigset_t()
        sigfillset(&defaults)
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        posix_spawnattr_setpgroup(&attributes, 0)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETPGROUP))

        let environmentLines = (environment ?? ProcessInfo.processInfo.environment).map { "\($0.key)=\($0.value)" }
        var pid: pid_t = 0
        let status = withCStrings(argv) { argvPointers in
            withCStrings(environmentLines) { envPointers in
                posix_spawn(&pid, path, &actions, &attributes, argvPointers, envPointers)
            }
        }
        guard status == 0 else { throw SubprocessError(executable: executable, code: status) }
        return Child(pid: pid)
    }
}

/// glibc's `posix_spawn_file_actions_addclosefrom_np` (2.34 and later), looked up at run time:
/// Swift's Glibc module does not declare it. Nil on an older C library, where descriptors without
/// close-on-exec are inherited as before.
private let closeFrom: (@convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32)? = {
    guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "posix_spawn_file_actions_addclosefrom_np") else { return nil }
    return unsafeBitCast(symbol, to: (@convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32).self)
}()

/// A child process could not be started.
public struct SubprocessError: Error, CustomStringConvertible {
    public let executable: String
    public let code: Int32
    public init(executable: String, code: Int32) {
        self.executable = executable
        self.code = code
    }
    public var description: String { "cannot start \(executable): \(String(cString: strerror(code)))" }
}

/// Calls `body` with a NULL-terminated C array of the strings.
private func withCStrings<T>(_ strings: [String], _ body: (UnsafePointer<UnsafeMutablePointer<CChar>?>) -> T) -> T {
    var pointers = strings.map { strdup($0) }
    pointers.append(nil)
    defer { for pointer in pointers { free(pointer) } }
    return pointers.withUnsafeBufferPointer { buffer in
        // A non-empty array always has a base address.
        body(buffer.baseAddress.unsafelyUnwrapped)
    }
}
