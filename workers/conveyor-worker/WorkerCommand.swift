import ArgumentParser
import CommandLineSupport
import Conveyor
import Diagnostics
import Email
import Foundation
import Logging
import MetricsEndpoint
import Repositories
import UnixSignals
#if canImport(Glibc)
import Glibc
#endif

/// `conveyor-worker`: runs Conveyor's job families against RabbitMQ and Redis.
@main
struct WorkerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "conveyor-worker",
        abstract: "Run Conveyor tasks from RabbitMQ, storing results in Redis (Celery-compatible).",
        discussion: """
            Environment: CONVEYOR_BROKER_URL (comma-separated = failover list), CONVEYOR_RESULT_URL,
            CONVEYOR_REPOS_ROOT (--repos-root), CONVEYOR_INDEX_DIR (--index-dir),
            CONVEYOR_TEMPLATES (--templates), CONVEYOR_METRICS (--metrics), CONVEYOR_SMTP_URL (default smtp://127.0.0.1:2525), CONVEYOR_MAIL_FROM (--mail-from).
            Signals: TERM/INT = warm shutdown (finish running tasks within the grace period, requeue the rest);
            a second TERM/INT, or QUIT = cold shutdown (cancel and requeue now); HUP = warm stop, then restart in place.
            """)

    /// Runs the worker; bad usage exits 2, like the flag checks below.
    static func main() async {
        await mainExitingTwoOnBadUsage(name: "conveyor-worker")
    }

    @Option(help: "Comma-separated queues to consume (default: the configured default queue, 'celery').")
    var queues: String?

    @Option(help: "Tasks run at the same time (1 to 65535).")
    var concurrency: Int = 16

    @Option(help: "Unacknowledged messages held per queue, 1 to 65535 (default: 4 x concurrency, as Celery; for long tasks set it to the concurrency).")
    var prefetch: Int?

    @Option(help: "Event loops, 1 to 64, each a thread with its own broker and Redis connections; the prefetch is split between them (at most one loop per message of prefetch). More than 1 only pays on a machine with cores to spare, for large payloads.")
    var loops: Int = 1

    @Option(help: "Node name shown to operators, %h = host name (default: conveyor@<host>).")
    var hostname: String?

    @Option(help: "Write the process id here; refuse to start if a live worker holds it.")
    var pidfile: String?

    @Option(help: "Keep the worker's health here as JSON (status ok/degraded/stopping), replaced on each change and every heartbeat, removed at exit; read it with conveyor health.")
    var healthFile: String?

    @Option(help: "Serve Prometheus metrics (GET /metrics) and a health probe (GET /healthz) on HOST:PORT, e.g. 127.0.0.1:9808 (default CONVEYOR_METRICS).")
    var metrics: String?

    @Flag(name: [.customLong("events"), .customShort("E")],
          help: "Send Celery's task events (task-received, task-started, ...) to celeryev, as celery worker -E (worker-online/-heartbeat/-offline are always sent).")
    var events = false

    @Flag(help: "Do not register the conveyor.* diagnostic tasks.")
    var noDiagnostics = false

    @Flag(help: "Register conveyor.crash, which ends the process abruptly (fault tests only).")
    var allowCrash = false

    @Option(help: "Comma-separated job families to register: diffs (needs --repos-root), repos (needs --repos-root and --index-dir), email (needs --templates). Default: every family whose settings are given.")
    var families: String?

    @Option(help: "Directory the repositories live under, named by their path relative to it (default CONVEYOR_REPOS_ROOT).")
    var reposRoot: String?

    @Option(help: "Where repos.index keeps its search index, on local disk, created if missing (default CONVEYOR_INDEX_DIR; needed by the repos family).")
    var indexDir: String?

    @Option(help: "Bytes over which repos.index lists a text file without indexing it (1024 to 1073741824).")
    var indexMaxFileSize: Int = 1 << 20

    @Option(help: "Seconds one git request of a repository job may take before git is killed (1 to 3600).")
    var gitTimeout: Double = 60

    @Option(help: "Seconds one repos.search may spend verifying files before it answers what it found, truncated (0.01 to 600).")
    var searchDeadline: Double = 10

    @Option(help: "Seconds a computed diff stays cached in Redis (1 to 2592000, 30 days).")
    var diffCacheTTL: Int = 86_400

    @Option(help: "Directory of the email templates, NAME.subject.mustache, NAME.txt.mustache, NAME.html.mustache (default CONVEYOR_TEMPLATES).")
    var templates: String?

    @Option(help: "Sender of mail whose task names none (default CONVEYOR_MAIL_FROM or conveyor@localhost).")
    var mailFrom: String?

    @Option(help: "Per recipient domain, fleet-wide: DOMAIN=[RATE][,burst=N][,concurrency=N], DOMAIN 'default' for the rest (default: concurrency=20, no rate). Repeatable.")
    var emailDomainLimit: [String] = []

    @Option(help: "What a missing template variable does: error (the task fails) or empty.")
    var missingVariables: String = "error"

    @Option(help: "SMTP connections kept open (1 to 64; libcurl handles, each on an I/O thread of its own).")
    var smtpConnections: Int = 8

    @Flag(inversion: .prefixedNo, help: "Store STARTED (with pid and host) when a task starts (Celery's task_track_started).")
    var trackStarted = true

    @Option(help: "classic or quorum: how work queues are declared (must match the other clients; default CONVEYOR_QUEUE_TYPE or classic).")
    var queueType: String?

    @Option(help: "Broker URL(s); overrides CONVEYOR_BROKER_URL.")
    var broker: String?

    @Option(help: "Result store URL; overrides CONVEYOR_RESULT_URL.")
    var resultBackend: String?

    @Option(help: "Seconds a warm shutdown waits for running tasks before cancelling them (0 to 86400).")
    var gracePeriod: Double = 30

    @Option(help: "Dead-letter a task as poison once it has started this many times without finishing, 1 to 1000000 (its worker died each time; runs stopped by a shutdown do not count).")
    var poisonAfter: Int = 5

    @Option(help: "Largest task body accepted, in bytes; bigger ones are dead-lettered unread.")
    var maxMessageSize: Int?

    @Option(help: "Seconds results live in Redis, Celery's result_expires, up to 3155760000 (default: CONVEYOR_RESULT_EXPIRES or 86400; 0 keeps them).")
    var resultExpires: Int?

    @Option(help: "trace, debug, info, notice, warning, error or critical.")
    var logLevel: String = "info"

    @Option(help: "Rate-limit a task as if in code: TASK=RATE[,burst=N][,per-arg=NAME][,scope=fleet|worker], RATE like 10/s, 100/m (repeatable; conveyor limit set replaces it).")
    var rateLimit: [String] = []

    func run() async throws {
        signal(SIGPIPE, SIG_IGN)
        guard let level = Logger.Level(rawValue: logLevel.lowercased()) else { fail("unknown log level '\(logLevel)'") }
        LogfmtLogHandler.bootstrap(level: level)
        let logger = Logger(label: "conveyor.worker")

        var configuration = ConveyorConfiguration.fromEnvironment()
        if let broker { configuration.brokerURL = broker }
        if let resultBackend { configuration.resultURL = resultBackend }
        if let queueType {
            guard let type = QueueType(rawValue: queueType) else { fail("--queue-type must be classic or quorum") }
            configuration.queueType = type
        }
        // Every number is checked here, naming its flag, before anything converts it.
        let problems = [
            OptionCheck.outside(concurrency, "--concurrency", WorkerOptions.concurrencies),
            OptionCheck.outside(prefetch, "--prefetch", WorkerOptions.prefetches),
            OptionCheck.outside(loops, "--loops", WorkerOptions.loopCounts),
            OptionCheck.outside(gracePeriod, "--grace-period", WorkerOptions.waits),
            OptionCheck.outside(poisonAfter, "--poison-after", WorkerOptions.unfinishedRunLimits),
            OptionCheck.outside(maxMessageSize, "--max-message-size", 1...Int.max),
        ]
        if let problem = problems.compactMap({ $0 }).first { fail(problem) }
        if let resultExpires, resultExpires != 0, !ConveyorConfiguration.ttls.contains(resultExpires) {
            fail("--result-expires must be 0 (keep results) or seconds in 1...\(ConveyorConfiguration.ttls.upperBound), not \(resultExpires)")
        }
        if let maxMessageSize { configuration.maxMessageSize = maxMessageSize }
        if let resultExpires { configuration.resultTTL = resultExpires == 0 ? nil : resultExpires }
        var options = WorkerOptions(concurrency: concurrency, prefetch: prefetch, shutdownGracePeriod: gracePeriod,
                                    trackStarted: trackStarted, allowCrash: allowCrash, maxUnfinishedRuns: poisonAfter)
        options.events = events
        options.loops = loops
        if let healthFile {
            guard !healthFile.isEmpty else { fail("--health-file needs a path") }
            options.healthFile = healthFile
        }
        if let queues {
            options.queues = queues.split(separator: ",").map { String($0).trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
            guard !options.queues.isEmpty else { fail("--queues needs at least one queue name") }
        }
        if let hostname {
            // Celery's node-name placeholders: %h = host name, %n = its first label.
            let host = ProcessInfo.processInfo.hostName
            let short = host.split(separator: ".").first.map(String.init) ?? host
            options.hostname = hostname.replacingOccurrences(of: "%h", with: host).replacingOccurrences(of: "%n", with: short)
        }

        var registry = TaskRegistry()
        if !noDiagnostics { Diagnostics.register(into: &registry, allowCrash: allowCrash) }
        let repositories = try registerFamilies(into: &registry, logger: logger)
        defer { repositories?.close() }
        for assignment in rateLimit {
            do {
                let (task, limit) = try RateLimit.assignment(assignment)
                try registry.setRateLimit(limit, for: task)
            } catch let error as ConveyorError {
                fail("--rate-limit: \(error.message)")
            }
        }

        let metricsAt = metricsAddress()
        let prometheus = metricsAt.map { _ in Self.bootstrapPrometheus() }
        let pid = try Pidfile(path: pidfile)
        defer { pid?.remove() }

        let worker: Worker
        do {
            worker = try Worker(configuration: configuration, options: options, registry: registry, logger: logger)
        } catch let error as ConveyorError {
            fail(error.message)
        }

        var endpoint: HTTPEndpoint?
        if let metricsAt, let prometheus { endpoint = await Self.serveMetrics(at: metricsAt, factory: prometheus, worker: worker, logger: logger) }
        let restart = RestartFlag()
        let signals = await UnixSignalsSequence(trapping: .sigterm, .sigint, .sigquit, .sighup)
        let watcher = Task {
            var warmRequested = false
            for await received in signals {
                switch received {
                case .sigquit:
                    worker.shutdown(.cold)
                case .sighup where !warmRequested:
                    logger.info("SIGHUP: restarting in place after a warm shutdown")
                    restart.set()
                    warmRequested = true
                    worker.shutdown(.warm)
                default:
                    worker.shutdown(warmRequested ? .cold : .warm)
                    warmRequested = true
                }
            }
        }
        do {
            try await worker.run()
        } catch let error as ConveyorError {
            watcher.cancel()
            fail(error.message)
        }
        watcher.cancel()
        await endpoint?.close()
        LogfmtLogHandler.flush()
        if restart.isSet {
            pid?.remove()
            Self.reexec(logger: logger)
        }
    }

    /// Registers the job families `--families` names (by default every family whose settings are
    /// given); returns the repository pool to close at exit.
    func registerFamilies(into registry: inout TaskRegistry, logger: Logger) throws -> RepositoryPool? {
        let environment = ProcessInfo.processInfo.environment
        let root = reposRoot ?? environment["CONVEYOR_REPOS_ROOT"].flatMap { $0.isEmpty ? nil : $0 }
        let indexDirectory = indexDir ?? environment["CONVEYOR_INDEX_DIR"].flatMap { $0.isEmpty ? nil : $0 }
        let templatesDirectory = templates ?? environment["CONVEYOR_TEMPLATES"].flatMap { $0.isEmpty ? nil : $0 }
        let known = [RepositoryJobs.diffsFamily, RepositoryJobs.reposFamily, EmailJobs.family]
        var wanted: Set<String>
        if let families {
            wanted = Set(families.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty })
            if let unknown = wanted.first(where: { !known.contains($0) }) {
                fail("--families: unknown family '\(unknown)' (known: \(known.joined(separator: ", ")))")
            }
        } else {
            wanted = root == nil ? [] : indexDirectory == nil ? [RepositoryJobs.diffsFamily] : [RepositoryJobs.diffsFamily, RepositoryJobs.reposFamily]
            if templatesDirectory != nil { wanted.insert(EmailJobs.family) }
        }
        if wanted.contains(EmailJobs.family) { registerEmail(into: &registry, templates: templatesDirectory, logger: logger) }
        wanted.remove(EmailJobs.family)
        guard !wanted.isEmpty else { return nil }
        guard let root else { fail("the \(wanted.sorted().joined(separator: " and ")) famil\(wanted.count == 1 ? "y needs" : "ies need") --repos-root or CONVEYOR_REPOS_ROOT") }
        if let problem = OptionCheck.outside(gitTimeout, "--git-timeout", 1.0...3600.0) { fail(problem) }
        if let problem = OptionCheck.outside(diffCacheTTL, "--diff-cache-ttl", 1...KeyValueDiffCache.maxTTL) { fail(problem) }
        if let problem = OptionCheck.outside(searchDeadline, "--search-deadline", 0.01...600.0) { fail(problem) }
        let pool: RepositoryPool
        do {
            pool = RepositoryPool(root: try RepositoryRoot(root), environment: try GitEnvironment(), timeout: gitTimeout)
        } catch {
            fail("\(error)")
        }
        if wanted.contains(RepositoryJobs.diffsFamily) {
            RepositoryJobs.registerDiffs(into: &registry, service: DiffService(repositories: pool, cacheTTL: diffCacheTTL))
            logger.info("registered the diffs family", metadata: ["repos_root": "\(pool.root.path)"])
        }
        if wanted.contains(RepositoryJobs.reposFamily) {
            guard let indexDirectory else { fail("the repos family needs --index-dir or CONVEYOR_INDEX_DIR") }
            if let problem = OptionCheck.outside(indexMaxFileSize, "--index-max-file-size", 1_024...(1 << 30)) { fail(problem) }
            let index: SearchIndex
            do {
                index = SearchIndex(store: try IndexStore(directory: indexDirectory), repositories: pool)
            } catch {
                fail("\(error)")
            }
            RepositoryJobs.registerIndex(into: &registry, service: IndexService(index: index, options: IndexOptions(maxFileSize: indexMaxFileSize)))
            RepositoryJobs.registerSearch(into: &registry, service: SearchService(repositories: pool, index: index, deadline: .seconds(searchDeadline)))
            logger.info("registered the repos family", metadata: ["repos_root": "\(pool.root.path)", "index_dir": "\(index.store.directory)"])
        }
        return pool
    }

    /// Replaces this process with a fresh copy of the same binary and arguments (the
    /// `kill -HUP` deploy: new code, same pid, same supervisor).
    static func reexec(logger: Logger) -> Never {
        let arguments = CommandLine.arguments
        let path = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? arguments[0]
        var cArguments = arguments.map { strdup($0) }
        cArguments.append(nil)
        execv(path, &cArguments)
        logger.critical("restart failed: execv \(path): \(String(cString: strerror(errno)))")
        Glibc.exit(1)
    }
}

/// Set once by the signal watcher, read once after the worker stopped.
final class RestartFlag: @unchecked Sendable {
    private var value = false
    private let lock = NSLock()
    func set() { lock.withLock { value = true } }
    var isSet: Bool { lock.withLock { value } }
}

/// A pid file that refuses to be taken over from a live process.
struct Pidfile {
    let path: String

    init?(path: String?) throws {
        guard let path else { return nil }
        self.path = path
        if let text = try? String(contentsOfFile: path, encoding: .utf8),
           let other = Int32(text.trimmingCharacters(in: .whitespacesAndNewlines)), other != getpid(), kill(other, 0) == 0 {
            fail("pidfile \(path) belongs to running process \(other); stop it first or use another --pidfile")
        }
        do {
            try "\(getpid())\n".write(toFile: path, atomically: true, encoding: .utf8)
        } catch {
            fail("cannot write pidfile \(path): \(error.localizedDescription)")
        }
    }

    func remove() {
        if let text = try? String(contentsOfFile: path, encoding: .utf8), Int32(text.trimmingCharacters(in: .whitespacesAndNewlines)) == getpid() {
            try? FileManager.default.removeItem(atPath: path)
        }
    }
}

/// Prints `conveyor-worker: <reason>` on standard error and exits with status 2.
func fail(_ message: String) -> Never {
    FileHandle.standardError.write(Data("conveyor-worker: \(message)\n".utf8))
    exit(2)
}
