import Conveyor
import IOSupport
#if canImport(Glibc)
import Glibc
#endif

/// The diagnostic tasks every worker registers unless `--no-diagnostics`: ways to check a
/// fleet end to end from any client (Swift, Python, the `conveyor` CLI).
public enum Diagnostics {
    /// Task names, as operators and tests call them.
    public static let echo = "conveyor.echo"
    public static let add = "conveyor.add"
    public static let sleep = "conveyor.sleep"
    public static let fail = "conveyor.fail"
    public static let crash = "conveyor.crash"

    /// Registers the diagnostic tasks; `conveyor.crash` only when `allowCrash`.
    public static func register(into registry: inout TaskRegistry, allowCrash: Bool = false) {
        // Returns what it was given: {"args": [...], "kwargs": {...}}.
        registry.register(echo) { context in
            ["args": .array(context.args), "kwargs": .object(context.kwargs)]
        }
        // x + y, integers or floats, as Python would add them.
        registry.register(add) { context in
            let x = try context.argument(0, "x", as: JSON.self)
            let y = try context.argument(1, "y", as: JSON.self)
            return try sum(x, y, task: context.name)
        }
        // Sleeps, honouring cancellation (soft time limits, revoke, shutdown); returns the seconds.
        registry.register(sleep) { context in
            let seconds = try context.argument(0, "seconds", as: Double.self)
            guard seconds >= 0, seconds.isFinite else { throw TaskArgumentError("seconds must be a non-negative number") }
            try await Task.sleep(for: .sleeping(seconds: seconds))
            return .double(seconds)
        }
        // Fails with the given message (Python sees RuntimeError(message)).
        registry.register(fail) { context in
            let message = (try? context.argument(0, "message", as: String.self)) ?? "conveyor.fail called"
            throw TaskFailure(message)
        }
        if allowCrash {
            // Ends the process at once, as a segfault or OOM kill would: for fault tests.
            registry.register(crash) { context in
                context.logger.critical("conveyor.crash: exiting abruptly")
                LogfmtLogHandler.flush()
                _exit(70)
            }
        }
    }

    static func sum(_ x: JSON, _ y: JSON, task: String) throws -> JSON {
        switch (x, y) {
        case let (.int(a), .int(b)):
            let (result, overflow) = a.addingReportingOverflow(b)
            if overflow { throw TaskFailure("\(task): integer overflow adding \(a) and \(b)", type: "OverflowError") }
            return .int(result)
        default:
            guard let a = x.double, let b = y.double, !(x.string != nil || y.string != nil) else {
                throw TaskArgumentError("\(task)() needs two numbers, got \(x.text(.compact)) and \(y.text(.compact))")
            }
            return .double(a + b)
        }
    }
}
