import Foundation
import Testing
import TestSupport
#if canImport(Glibc)
import Glibc
#endif

/// A supervisord of the test's own (Debian `supervisor`, which ops/test installs): its unix
/// socket, pid file and logs in a temporary folder, daemonized as in production, and running
/// the shipped `ops/deploy/conveyor-worker.conf` section with the test's command, environment,
/// folder and log file in place of the production ones.
struct PrivateSupervisor {
    static let program = "conveyor-worker"
    /// What the test replaces in the shipped section; every other setting (stop signal,
    /// stopwaitsecs, stopasgroup, killasgroup, autorestart, ...) is used as shipped.
    static let replacedKeys: Set<String> = ["command", "environment", "user", "directory", "stdout_logfile", "stderr_logfile",
                                            "stdout_logfile_maxbytes", "stdout_logfile_backups"]

    let directory: URL
    var configuration: URL { directory.appendingPathComponent("supervisord.conf") }
    var workerLog: URL { directory.appendingPathComponent("worker.log") }
    var supervisorPidfile: URL { directory.appendingPathComponent("supervisord.pid") }

    /// Writes the configuration and starts supervisord, which starts `command`; returns once
    /// supervisord answers on its socket.
    static func start(command: [String], environment: [String: String]) async throws -> PrivateSupervisor {
        guard let daemon = executable("supervisord"), executable("supervisorctl") != nil else {
            throw MissingService("supervisord is not installed (Debian package supervisor) — ops/test installs it")
        }
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("conveyor-supervisor-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let supervisor = PrivateSupervisor(directory: directory)
        try supervisor.configurationText(command: command, environment: environment)
            .write(to: supervisor.configuration, atomically: true, encoding: .utf8)
        let launcher = try ManagedProcess(daemon, ["-c", supervisor.configuration.path], name: "supervisord", closeOtherDescriptors: true)
        let status = try await launcher.waitForExit(timeout: hangGuard)
        guard status == 0 else { throw MissingService("supervisord exited with \(status): \(launcher.log)") }
        do {
            try await eventually(timeout: hangGuard, "supervisord answering on its socket") {
                try await supervisor.control(["pid"]).status == 0
            }
        } catch {
            await supervisor.shutdown()
            throw error
        }
        return supervisor
    }

    /// The shipped program section with the test's settings in place of `replacedKeys`, behind a
    /// private `[supervisord]`, `[unix_http_server]` and `[supervisorctl]`.
    func configurationText(command: [String], environment: [String: String]) throws -> String {
        let shipped = try String(contentsOf: TestEnvironment.repoRoot.appendingPathComponent("ops/deploy/conveyor-worker.conf"), encoding: .utf8)
        let lines = shipped.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        guard let start = lines.firstIndex(of: "[program:\(Self.program)]") else {
            throw MissingService("ops/deploy/conveyor-worker.conf has no [program:\(Self.program)] section")
        }
        let section = lines[(start + 1)...].prefix { !$0.hasPrefix("[") }.filter { line in
            guard let key = line.split(separator: "=", maxSplits: 1).first, !line.hasPrefix(";") else { return false }
            return !Self.replacedKeys.contains(key.trimmingCharacters(in: .whitespaces))
        }
        let socket = directory.appendingPathComponent("supervisor.sock").path
        // supervisord expands %(name)s in its values: a literal % is written %%.
        let escaped = { (text: String) in text.replacingOccurrences(of: "%", with: "%%") }
        let variables = environment.sorted { $0.key < $1.key }.map { "\($0.key)=\"\(escaped($0.value))\"" }.joined(separator: ",")
        return """
            [unix_http_server]
            file=\(socket)

            [supervisord]
            logfile=\(directory.appendingPathComponent("supervisord.log").path)
            pidfile=\(supervisorPidfile.path)
            childlogdir=\(directory.path)
            nodaemon=false

            [rpcinterface:supervisor]
            supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface

            [supervisorctl]
            serverurl=unix://\(socket)

            [program:\(Self.program)]
            command=\(escaped(command.joined(separator: " ")))
            environment=\(variables)
            directory=\(directory.path)
            stdout_logfile=\(workerLog.path)
            \(section.joined(separator: "\n"))

            """
    }

    /// Runs `supervisorctl` against this supervisord; returns its exit status and output.
    func control(_ arguments: [String]) async throws -> (status: Int32, output: String) {
        guard let tool = Self.executable("supervisorctl") else { throw MissingService("supervisorctl is not installed") }
        let process = try ManagedProcess(tool, ["-c", configuration.path] + arguments, name: "supervisorctl")
        let status = try await process.waitForExit(timeout: hangGuard)
        return (status, process.log)
    }

    /// What the worker has logged so far.
    var log: String { (try? String(contentsOf: workerLog, encoding: .utf8)) ?? "" }

    /// Stops the worker and supervisord (`supervisorctl shutdown`), waiting for supervisord to
    /// exit; kills it if it does not answer. Called on every path out of a test.
    func shutdown() async {
        let pid = (try? String(contentsOf: supervisorPidfile, encoding: .utf8)).flatMap { Int32($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
        _ = try? await control(["shutdown"])
        guard let pid else { return }
        do {
            try await eventually(timeout: hangGuard, "supervisord exiting") { !Self.isAlive(pid) }
        } catch {
            kill(pid, SIGKILL)
        }
    }

    /// Whether `pid` runs: a daemon is no child of ours, and an exited one may stay a zombie
    /// until a container's init reaps it.
    static func isAlive(_ pid: Int32) -> Bool {
        guard kill(pid, 0) == 0, let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let close = stat.lastIndex(of: ")") else { return false }
        return !stat[close...].hasPrefix(") Z")
    }

    private static func executable(_ name: String) -> URL? {
        ["/usr/bin", "/usr/local/bin", "/bin"].map { URL(fileURLWithPath: $0).appendingPathComponent(name) }
            .first { FileManager.default.isExecutableFile(atPath: $0.path) }
    }
}
