import Dispatch
#if canImport(Glibc)
import Glibc
#endif

/// Signals taken away from their default action (which would end the process without
/// restoring the terminal or closing connections) and handed to a handler on a private queue,
/// for the long-running commands (`conveyor events`, `conveyor top`).
final class SignalTrap: @unchecked Sendable {
    private let sources: [any DispatchSourceSignal]
    private let queue = DispatchQueue(label: "conveyor.signals")

    /// Traps `signals`; `handler` runs on a private queue for each one that arrives.
    init(_ signals: [Int32], handler: @escaping @Sendable (Int32) -> Void) {
        var sources: [any DispatchSourceSignal] = []
        for number in signals {
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: queue)
            source.setEventHandler { handler(number) }
            source.resume()
            sources.append(source)
        }
        self.sources = sources
    }

    /// Stops trapping (the signals stay ignored until the process exits, which follows).
    func cancel() {
        for source in sources { source.cancel() }
    }
}
