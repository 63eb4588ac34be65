import AMQP
import Foundation
import Redis

/// What operators ask about a deployment: which workers are alive, which queues exist and how
/// deep they are. The API behind `conveyor status` and `conveyor queues`.
public struct Fleet: Sendable {
    let client: ConveyorClient

    public init(client: ConveyorClient) {
        self.client = client
    }

    /// Workers whose heartbeat has not expired, sorted by name. Expired ones are forgotten.
    public func workers() async throws -> [WorkerHeartbeat] {
        do {
            let names = try await client.redis.send("SMEMBERS", WorkerHeartbeat.registryKey).array?.compactMap(\.string) ?? []
            var result: [WorkerHeartbeat] = []
            for name in names.sorted() {
                let reply = try await client.redis.send("GET", WorkerHeartbeat.key(name))
                if let bytes = reply.bytes, let json = try? JSON.parse(bytes), let beat = WorkerHeartbeat(json: json) {
                    result.append(beat)
                } else {
                    _ = try? await client.redis.send("SREM", WorkerHeartbeat.registryKey, name)
                }
            }
            return result
        } catch let error as RedisError {
            throw ConveyorError(.backendUnavailable, "result store unavailable: \(error.message)")
        }
    }

    /// The default queue, every queue live workers consume, and every queue recorded as used.
    public func queueNames() async throws -> [String] {
        var names: Set<String> = [client.configuration.defaultQueue]
        if let known = try? await client.redis.send("SMEMBERS", WorkerHeartbeat.queuesKey).array {
            names.formUnion(known.compactMap(\.string))
        }
        for worker in try await workers() { names.formUnion(worker.queues) }
        return names.sorted()
    }

    /// Depth and consumers of a queue and its dead letters; nil when the queue does not exist.
    public func queue(_ name: String) async throws -> QueueReport? {
        let connection = client.publisher.connection
        do {
            let status = try await connection.inspect(queue: name)
            let dead = try? await connection.inspect(queue: WorkQueue.deadLetterName(for: name))
            return QueueReport(name: name, ready: Int(status.messageCount), consumers: Int(status.consumerCount),
                               deadLetters: dead.map { Int($0.messageCount) })
        } catch let error as AMQPError where error.code == .notFound {
            return nil
        } catch let error as AMQPError {
            throw TaskPublisher.translate(error, queue: name)
        }
    }

    /// Removes every ready message from `queue`; returns how many. Unacknowledged messages held
    /// by workers are not touched.
    public func purge(_ queue: String) async throws -> Int {
        do {
            return Int(try await client.publisher.connection.purge(queue: queue))
        } catch let error as AMQPError where error.code == .notFound {
            throw ConveyorError(.invalidConfiguration, "queue '\(queue)' does not exist")
        } catch let error as AMQPError {
            throw TaskPublisher.translate(error, queue: queue)
        }
    }
}

/// One queue as `conveyor queues` shows it.
public struct QueueReport: Sendable {
    public var name: String
    /// Messages waiting (not counting those delivered and not yet acknowledged).
    public var ready: Int
    public var consumers: Int
    /// Messages in the queue's dead-letter queue; nil when it does not exist.
    public var deadLetters: Int?
}
