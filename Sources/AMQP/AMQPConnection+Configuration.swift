import IOSupport

extension AMQPConnection {
    /// How to connect and behave.
    public struct Configuration: Sendable {
        /// Brokers to try in turn (a failover list).
        public var endpoints: [AMQPEndpoint]
        /// Shown in the management UI as the connection name.
        public var name: String
        /// Put the channel in confirm mode; publishes then complete on the broker's confirm.
        public var confirms: Bool
        /// Bound on every synchronous broker call (declare, consume, close …), seconds.
        public var rpcTimeout: Double
        /// Default time a publish may take to be confirmed, including reconnects, seconds.
        public var publishTimeout: Double
        /// Default time other operations wait for a connection, seconds.
        public var operationTimeout: Double
        /// Reconnect pacing.
        public var reconnect: Backoff
        /// Pacing of publishes the broker refused (`basic.nack`), which are tried again on a
        /// fresh channel until their publish timeout. Short: a refusal during a cluster
        /// failover clears within seconds.
        public var refusedRetry: Backoff
        /// The largest body a publish may carry (the broker's `max_message_size`); a larger one
        /// fails alone with `messageTooLarge`. Lowered by itself when the broker states a
        /// smaller limit.
        public var maxBodySize: Int
        /// Stamped on every delivery this connection makes (`Delivery.origin`), so an owner of
        /// several consuming connections settles each delivery on the one it came from.
        public var origin: Int = 0

        /// - Parameters:
        ///   - endpoints: brokers to try in turn.
        ///   - name: connection name shown by the broker.
        ///   - confirms: publisher confirms on the main channel.
        ///   - rpcTimeout: bound on every synchronous broker call, seconds.
        ///   - publishTimeout: default time a publish may take to be confirmed, seconds.
        ///   - operationTimeout: default time other operations wait for a connection, seconds.
        ///   - reconnect: reconnect pacing.
        ///   - refusedRetry: pacing of refused publishes' next tries.
        ///   - maxBodySize: the largest body a publish may carry.
        public init(endpoints: [AMQPEndpoint], name: String, confirms: Bool = true, rpcTimeout: Double = 10,
                    publishTimeout: Double = 30, operationTimeout: Double = 30, reconnect: Backoff = Backoff(),
                    refusedRetry: Backoff = Backoff(base: 0.1, cap: 1, floor: 0.05),
                    maxBodySize: Int = PublishLimits.defaultMaxBodySize) {
            self.endpoints = endpoints
            self.name = name
            self.confirms = confirms
            self.rpcTimeout = rpcTimeout
            self.publishTimeout = publishTimeout
            self.operationTimeout = operationTimeout
            self.reconnect = reconnect
            self.refusedRetry = refusedRetry
            self.maxBodySize = maxBodySize
        }
    }
}
