import Foundation

/// Where a connection's I/O thread stands, reported to its owner on every change.
public enum ConnectionState: Sendable, Equatable, CustomStringConvertible {
    /// Not started yet, or connecting for the first time.
    case connecting
    /// Logged in, topology declared, consumers subscribed.
    case connected
    /// Lost; waiting `retryIn` seconds before attempt `attempt`. `reason` is one line.
    case reconnecting(attempt: Int, retryIn: Double, reason: String)
    /// Closed for good by its owner.
    case closed

    public var description: String {
        switch self {
        case .connecting: return "connecting"
        case .connected: return "connected"
        case let .reconnecting(attempt, retryIn, reason):
            return "reconnecting (attempt \(attempt), next try in \(String(format: "%.1f", retryIn)) s): \(reason)"
        case .closed: return "closed"
        }
    }
}
