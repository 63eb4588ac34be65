extension RedisConnection {
    /// `WAIT replicaAcks timeout` for the endpoint's `replicaAcks`, or nil when it asks for none.
    /// Append it to a pipeline of writes and pass its reply to `checkReplicated`: one round trip.
    /// The timeout is half the command timeout, so Redis answers before the socket gives up.
    public var replicationWait: [[UInt8]]? {
        let endpoint = configuration.endpoint
        guard endpoint.replicaAcks > 0 else { return nil }
        let milliseconds = max(1, Int(endpoint.commandTimeout * 500))
        return [Array("WAIT".utf8), Array(String(endpoint.replicaAcks).utf8), Array(String(milliseconds).utf8)]
    }

    /// Throws unless a `WAIT` reply counts at least `replicaAcks` replicas.
    /// - Throws: `RedisError.Code.notReplicated` (the writes ran on the primary only), or `server`
    ///   for an error reply.
    public func checkReplicated(_ reply: RedisReply) throws {
        let wanted = configuration.endpoint.replicaAcks
        if case let .error(message) = reply { throw RedisError(.server, message) }
        let acknowledged = reply.integer ?? 0
        guard acknowledged >= Int64(wanted) else {
            throw RedisError(.notReplicated, "only \(acknowledged) of \(wanted) replicas of \(configuration.endpoint) "
                                + "acknowledged the write within \(configuration.endpoint.commandTimeout / 2) s")
        }
    }

    /// Waits until `replicaAcks` replicas have every write this connection sent so far; returns
    /// at once when the endpoint asks for none.
    public func waitForReplicas() async throws {
        guard let command = replicationWait else { return }
        try checkReplicated(try await raw(command, timeout: configuration.endpoint.commandTimeout + configuration.queueTimeout))
    }
}
