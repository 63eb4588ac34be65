import Foundation
import Logging
import Redis

/// The fleet's own control channel over Redis pub/sub (revoke with terminate from Conveyor's
/// clients), beside Celery's pidbox.
extension Worker {
    /// Whether the fleet's control channel is subscribed, so a revoke with terminate reaches
    /// this worker. False while Redis cannot be reached at start (the worker keeps trying, and
    /// says so in its log); the subscription then survives reconnects by itself.
    public var isListeningForControl: Bool { controlListening.withLock { $0 } }

    /// Subscribes to the fleet's control channel (revoke with terminate) without waiting for
    /// Redis: the subscriber reconnects until Redis answers and subscribes then. Every failure
    /// to reach Redis is logged (the first, then every tenth), and so is the subscription.
    /// - Returns: the subscriber to close at shutdown; nil when it could not even be made.
    func listenForControl() -> RedisSubscriber? {
        let subscriber: RedisSubscriber
        do {
            subscriber = try RedisSubscriber(endpoint: try configuration.resultEndpoint(), logger: logger) { [weak self] _, payload in
                guard let self, let command = try? JSON.parse(payload), command["terminate"]?.bool == true,
                      let ids = command["revoke"]?.array?.compactMap(\.string) else { return }
                self.terminate(ids)
            }
        } catch {
            logger.error("control channel unavailable: revoke with terminate cannot reach this worker", metadata: ["reason": "\(error)"])
            return nil
        }
        let logger = self.logger
        subscriber.onStateChange { [weak self] state in
            guard case let .reconnecting(attempt, _, reason) = state, attempt == 1 || (attempt > 0 && attempt % 10 == 0),
                  !(self?.isListeningForControl ?? true) else { return }
            logger.warning("control channel not subscribed yet: revoke with terminate cannot reach this worker until Redis answers",
                           metadata: ["reason": "\(reason)", "attempt": "\(attempt)"])
        }
        Task { [weak self] in
            do {
                try await subscriber.subscribe(Keys.control, timeout: .infinity)
                self?.controlListening.withLock { $0 = true }
                logger.info("control channel subscribed", metadata: ["channel": "\(Keys.control)"])
            } catch {
                // Only a close (the worker stopping) ends an unbounded subscribe.
                logger.debug("control channel subscription ended", metadata: ["reason": "\(error)"])
            }
        }
        return subscriber
    }
}
