import Conveyor
import Logging
#if canImport(Glibc)
import Glibc
#endif

/// A fault-test hook: ends the worker process abruptly (`_exit(70)`, as `conveyor.crash` does)
/// at a chosen point of a mail's sending, so that fault tests can crash a worker exactly where
/// "never sent twice" is hardest to keep. Never set it outside fault tests: `conveyor-worker`
/// takes it from `CONVEYOR_EMAIL_CRASH` only together with `--allow-crash`.
///
/// `CONVEYOR_EMAIL_CRASH` is a comma-separated list of `WINDOW:PROBABILITY`, the probability
/// in (0, 1], e.g. `after-reply:0.1,after-record:1`:
/// - `after-reply`: the server answered 250 to the message's end, the record still says
///   `sending` (the redelivery resends with the same Message-ID, counted as a resend);
/// - `after-record`: the record says `sent`, the result is not stored and the task not acked
///   (the redelivery returns the recorded outcome and sends nothing).
///
/// Only a mail's first sending crashes (a resend after an unknown outcome never does), so that
/// every crashed mail completes on its redelivery rather than crashing the fleet in a loop.
public struct EmailCrashHook: Sendable, Hashable, CustomStringConvertible {
    /// Where the process dies.
    public enum Window: String, Sendable, Hashable, CaseIterable {
        /// After the server's reply to the message's end, before the `sent` record.
        case afterReply = "after-reply"
        /// After the `sent` record, before the result and the ack.
        case afterRecord = "after-record"

        /// What the hook logs (critical) just before the process ends.
        public var logMessage: String {
            switch self {
            case .afterReply: "email fault hook: exiting after the server's reply, before the sent record"
            case .afterRecord: "email fault hook: exiting after the sent record, before the ack"
            }
        }
    }

    /// The environment variable `conveyor-worker` reads it from.
    public static let environmentVariable = "CONVEYOR_EMAIL_CRASH"
    /// The exit status of a crash, as `conveyor.crash` exits.
    public static let exitStatus: Int32 = 70

    /// The probability of a crash at each window (absent: never).
    public let probabilities: [Window: Double]

    /// - Parameter specification: `WINDOW:PROBABILITY[,…]` as above.
    /// - Throws: `EmailError.Code.configuration` naming the bad part.
    public init(parsing specification: String) throws {
        var probabilities: [Window: Double] = [:]
        for item in specification.split(separator: ",", omittingEmptySubsequences: false) {
            let parts = item.split(separator: ":", omittingEmptySubsequences: false)
            guard parts.count == 2, let window = Window(rawValue: String(parts[0])) else {
                throw EmailError(.configuration, "\(Self.environmentVariable): '\(item)' is not WINDOW:PROBABILITY with WINDOW after-reply or after-record")
            }
            guard let probability = Double(parts[1]), probability > 0, probability <= 1 else {
                throw EmailError(.configuration, "\(Self.environmentVariable): the probability of \(window.rawValue) must be in (0, 1], not '\(parts[1])'")
            }
            guard probabilities[window] == nil else {
                throw EmailError(.configuration, "\(Self.environmentVariable): \(window.rawValue) given twice")
            }
            probabilities[window] = probability
        }
        self.probabilities = probabilities
    }

    public var description: String {
        Window.allCases.compactMap { window in probabilities[window].map { "\(window.rawValue):\($0)" } }.joined(separator: ",")
    }

    /// Ends the process at `window` with its probability, logging first; returns otherwise.
    func fire(_ window: Window, messageID: String, logger: Logger) {
        guard let probability = probabilities[window], Double.random(in: 0..<1) < probability else { return }
        logger.critical("\(window.logMessage)", metadata: ["message_id": "\(messageID)"])
        LogfmtLogHandler.flush()
        _exit(Self.exitStatus)
    }
}
