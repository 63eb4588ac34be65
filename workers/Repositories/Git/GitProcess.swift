import Dispatch
import Foundation
import IOSupport
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// One long-lived git child (`cat-file --batch-command`, `diff-tree --stdin`) and the requests
/// sent to it, one at a time, on a serial queue of its own (the reads block; Swift's small
/// cooperative pool never does).
///
/// A request has a deadline: past it, or when its task is cancelled, the child is killed (its
/// output could no longer be matched to requests) and the next request starts a new one. A child
/// that died between requests is replaced before the next one; one that dies during a request
/// fails that request with what git said on standard error. Nothing git does can reach the worker
/// beyond that error.
final class GitProcess: @unchecked Sendable {
    /// What is shown in errors and logs, e.g. `cat-file`.
    let label: String
    private let environment: GitEnvironment
    private let gitDirectory: String
    private let workingDirectory: String
    private let command: [String]
    private let queue: DispatchQueue

    // Touched only on `queue`.
    private var running: Running? {
        didSet { if running == nil { currentPID.store(0, ordering: .relaxed) } }
    }
    private var buffer = ReadBuffer()
    private var errorTail: [UInt8] = []

    private struct Running {
        let child: Subprocess.Child
        let input: Int32
        let output: Int32
        var errors: Int32
    }

    /// How many children this process has started (the first one included): tests read it to see restarts.
    let starts = Atomic<Int>(0)

    init(label: String, environment: GitEnvironment, gitDirectory: String, workingDirectory: String, command: [String]) {
        self.label = label
        self.environment = environment
        self.gitDirectory = gitDirectory
        self.workingDirectory = workingDirectory
        self.command = command
        self.queue = DispatchQueue(label: "conveyor.git.\(label)")
    }

    deinit {
        if let running { Self.stop(running) }
    }

    /// The pid of the current child, if one runs (for tests that kill it); read without waiting
    /// for a request in flight.
    var pid: Int32? {
        let pid = currentPID.load(ordering: .relaxed)
        return pid > 0 ? pid : nil
    }
    private let currentPID = Atomic<Int32>(0)

    /// Writes `input` to the child and reads its answer with `response`.
    /// - Parameters:
    ///   - timeout: seconds from now; past it the child is killed and `.timedOut` thrown.
    func request<R: GitResponse>(_ input: [UInt8], timeout: Double, _ response: R) async throws -> R.Value {
        let deadline = DispatchTime.now().uptimeNanoseconds &+ UInt64(max(0, min(timeout, 86_400)) * 1e9)
        let cancelled = CancelFlag()
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<R.Value, Error>) in
                queue.async {
                    continuation.resume(with: Result { try self.exchange(input, deadline: deadline, cancelled: cancelled, response) })
                }
            }
        } onCancel: {
            cancelled.set()
        }
    }

    /// Kills the child once the request in flight (if any) has ended; returns at once, so no
    /// caller's thread waits for git.
    func terminate() {
        queue.async { [self] in
            if let running { Self.stop(running) }
            running = nil
            buffer.removeAll()
        }
    }

    // MARK: - On the queue

    private func exchange<R: GitResponse>(_ input: [UInt8], deadline: UInt64, cancelled: CancelFlag, _ response: R) throws -> R.Value {
        do {
            return try attempt(input, deadline: deadline, cancelled: cancelled, response)
        } catch let failure as Attempt {
            // A child that was dying as the request came (killed between requests, and not reaped
            // yet) answers nothing: one more try, on a new child. Every request only reads.
            guard failure.answeredNothing else { throw failure.error }
            do {
                return try attempt(input, deadline: deadline, cancelled: cancelled, response)
            } catch let again as Attempt {
                throw again.error
            }
        }
    }

    /// A child that died during a request, and whether it had answered any of it.
    private struct Attempt: Error {
        let error: RepositoryError
        let answeredNothing: Bool
    }

    private func attempt<R: GitResponse>(_ input: [UInt8], deadline: UInt64, cancelled: CancelFlag, _ response: R) throws -> R.Value {
        if cancelled.isSet { throw CancellationError() }
        if DispatchTime.now().uptimeNanoseconds >= deadline {
            throw RepositoryError(.timedOut, "git \(label) did not answer in time (the request waited behind others)")
        }
        var process = try ensureRunning()
        buffer.removeAll()
        errorTail.removeAll()
        var written = 0
        var answered = false
        do {
            while true {
                if let value = try response.consume(&buffer), written == input.count { return value }
                if cancelled.isSet { throw CancellationError() }
                let now = DispatchTime.now().uptimeNanoseconds
                guard now < deadline else {
                    throw RepositoryError(.timedOut, "git \(label) took longer than its time limit; it was stopped")
                }
                let waitMilliseconds = Int32(min(100, (deadline - now) / 1_000_000 + 1))
                var fds = [pollfd(fd: process.output, events: Int16(POLLIN), revents: 0)]
                if process.errors >= 0 { fds.append(pollfd(fd: process.errors, events: Int16(POLLIN), revents: 0)) }
                if written < input.count { fds.append(pollfd(fd: process.input, events: Int16(POLLOUT), revents: 0)) }
                let ready = poll(&fds, nfds_t(fds.count), waitMilliseconds)
                if ready < 0 {
                    if errno == EINTR { continue }
                    throw Attempt(error: died("poll failed: \(String(cString: strerror(errno)))"), answeredNothing: false)
                }
                if ready == 0 { continue }
                for fd in fds where fd.revents != 0 {
                    if fd.fd == process.input {
                        let sent = input.withUnsafeBytes { bytes in
                            send(fd.fd, bytes.baseAddress.unsafelyUnwrapped + written, input.count - written, Int32(MSG_NOSIGNAL | MSG_DONTWAIT))
                        }
                        if sent > 0 {
                            written += sent
                        } else if sent < 0 && errno != EAGAIN && errno != EINTR {
                            throw Attempt(error: died("git \(label) stopped reading its input"), answeredNothing: !answered)
                        }
                    } else if fd.fd == process.output {
                        if try !readChunk(fd.fd, into: .output) {
                            throw Attempt(error: died("git \(label) exited"), answeredNothing: !answered)
                        }
                        answered = true
                    } else if fd.fd == process.errors {
                        if try !readChunk(fd.fd, into: .errors) {
                            close(process.errors)
                            process.errors = -1
                            running?.errors = -1
                        }
                    }
                }
            }
        } catch {
            // Whatever is left in the pipes belongs to this request: a new child starts clean.
            if let running { Self.stop(running) }
            running = nil
            buffer.removeAll()
            throw error
        }
    }

    private enum Stream { case output, errors }

    /// Reads what is there; false at end of file.
    private func readChunk(_ fd: Int32, into stream: Stream) throws -> Bool {
        var chunk = [UInt8](repeating: 0, count: 65_536)
        let count = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        if count < 0 { return errno == EAGAIN || errno == EINTR }
        if count == 0 { return false }
        chunk.withUnsafeBytes { bytes in
            let slice = UnsafeRawBufferPointer(rebasing: bytes[0..<count])
            switch stream {
            case .output: buffer.append(slice)
            case .errors:
                errorTail.append(contentsOf: slice)
                if errorTail.count > 4_096 { errorTail.removeFirst(errorTail.count - 4_096) }
            }
        }
        return true
    }

    /// The error for a child that ended mid-request, from what it said on standard error.
    private func died(_ what: String) -> RepositoryError {
        if let running, running.errors >= 0 {
            // The child is gone or going: take what it left in the pipe, without waiting.
            for _ in 0..<16 {
                var fds = [pollfd(fd: running.errors, events: Int16(POLLIN), revents: 0)]
                guard poll(&fds, 1, 50) > 0, (try? readChunk(running.errors, into: .errors)) == true else { break }
            }
        }
        let said = String(decoding: errorTail, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        return GitFailure.classify(standardError: said, fallback: what)
    }

    private func ensureRunning() throws -> Running {
        if let current = running {
            var status: Int32 = 0
            if waitpid(current.child.pid, &status, WNOHANG) == 0 { return current }
            // It ended between requests (killed, crashed): start another.
            Self.closeAll(current)
            running = nil
        }
        // Socket pairs rather than pipes: made close-on-exec atomically (no other child started
        // meanwhile inherits them), and written with MSG_NOSIGNAL (a dead git cannot SIGPIPE us).
        var inputPair: [Int32] = [-1, -1]
        var outputPipe: [Int32] = [-1, -1]
        var errorPipe: [Int32] = [-1, -1]
        let type = Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue)
        guard socketpair(AF_UNIX, type, 0, &inputPair) == 0, socketpair(AF_UNIX, type, 0, &outputPipe) == 0,
              socketpair(AF_UNIX, type, 0, &errorPipe) == 0 else {
            let reason = String(cString: strerror(errno))
            for fd in inputPair + outputPipe + errorPipe where fd >= 0 { close(fd) }
            throw RepositoryError(.gitFailed, "cannot make sockets for git: \(reason)")
        }
        let child: Subprocess.Child
        do {
            child = try Subprocess.spawn(environment.executable, environment.arguments(command),
                                         environment: environment.variables(gitDirectory: gitDirectory),
                                         directory: workingDirectory, standardInput: .descriptor(inputPair[1]),
                                         standardOutput: .descriptor(outputPipe[1]), standardError: .descriptor(errorPipe[1]),
                                         closeOtherDescriptors: true)
        } catch {
            for fd in inputPair + outputPipe + errorPipe { close(fd) }
            throw RepositoryError(.gitFailed, "cannot start git: \(error)")
        }
        close(inputPair[1])
        close(outputPipe[1])
        close(errorPipe[1])
        _ = fcntl(errorPipe[0], F_SETFL, fcntl(errorPipe[0], F_GETFL) | O_NONBLOCK)
        _ = fcntl(outputPipe[0], F_SETFL, fcntl(outputPipe[0], F_GETFL) | O_NONBLOCK)
        starts.add(1, ordering: .relaxed)
        let started = Running(child: child, input: inputPair[0], output: outputPipe[0], errors: errorPipe[0])
        running = started
        currentPID.store(child.pid, ordering: .relaxed)
        return started
    }

    /// Kills a child and reaps it (SIGKILL cannot be ignored, so the wait is short).
    private static func stop(_ running: Running) {
        kill(running.child.pid, SIGKILL)
        closeAll(running)
        var status: Int32 = 0
        while waitpid(running.child.pid, &status, 0) < 0 && errno == EINTR {}
    }

    private static func closeAll(_ running: Running) {
        close(running.input)
        close(running.output)
        if running.errors >= 0 { close(running.errors) }
    }
}

/// Set when the waiting task is cancelled; read by the queue between polls.
final class CancelFlag: Sendable {
    private let value = Atomic<Bool>(false)
    func set() { value.store(true, ordering: .relaxed) }
    var isSet: Bool { value.load(ordering: .relaxed) }
}
