import AMQP
import Conveyor
import Foundation
import Testing
import TestSupport
#if canImport(Glibc)
import Glibc
#endif

/// A bad message for these tests: its properties, and the dead-letter reason it must end with.
private struct Oversized {
    let name: String
    let id: String
    let properties: BasicProperties
    let reason: String
    /// What the stored FAILURE must say, by exception type.
    let exception: String
}

private let goodBody = Array(#"[[1, 2], {}, {"callbacks": null, "errbacks": null, "chain": null, "chord": null}]"#.utf8)

/// Celery-shaped properties, with `headers` added to the usual ones.
private func celeryProperties(task: String, id: String, correlationId: String? = nil, extra: FieldTable = [:]) -> BasicProperties {
    var headers = celeryHeaders(task: task, id: id)
    headers.entries += extra.entries
    return BasicProperties(contentType: "application/json", contentEncoding: "utf-8", headers: headers, deliveryMode: 2, priority: 0,
                           correlationId: correlationId ?? id)
}

/// Properties for a `task` header that makes them `size` bytes in all.
private func propertiesOfSize(_ size: Int, id: String) -> BasicProperties {
    let base = celeryProperties(task: "", id: id).encodedSize
    return celeryProperties(task: String(repeating: "h", count: size - base), id: id)
}

/// The bad messages of issue 9 (70 KB and 120 KB task names) and their relatives.
private func oversizedMessages(budget: Int) -> [Oversized] {
    let longId = "long-id-" + String(repeating: "i", count: 292)
    return [
        Oversized(name: "70 KB task name", id: UUID().uuidString.lowercased(),
                  properties: celeryProperties(task: "big." + String(repeating: "a", count: 70_000), id: UUID().uuidString.lowercased()),
                  reason: "unknown-task", exception: "NotRegistered"),
        Oversized(name: "120 KB task name", id: UUID().uuidString.lowercased(),
                  properties: celeryProperties(task: "big." + String(repeating: "b", count: 120_000), id: UUID().uuidString.lowercased()),
                  reason: "unknown-task", exception: "NotRegistered"),
        Oversized(name: "headers 1 KB short of a frame", id: UUID().uuidString.lowercased(),
                  properties: propertiesOfSize(budget - 1_000, id: UUID().uuidString.lowercased()),
                  reason: "headers-too-large", exception: "DecodeError"),
        Oversized(name: "headers 100 bytes short of a frame", id: UUID().uuidString.lowercased(),
                  properties: propertiesOfSize(budget - 100, id: UUID().uuidString.lowercased()),
                  reason: "headers-too-large", exception: "DecodeError"),
        // Runs, asks to retry, and its retry copy (correlation id = task id) cannot be encoded.
        Oversized(name: "retry that cannot be published", id: longId,
                  properties: celeryProperties(task: "test.retry-always", id: longId, correlationId: "short"),
                  reason: "invalid-header", exception: "TaskError"),
    ].map { bad in
        // The id is whatever the headers say.
        Oversized(name: bad.name, id: bad.properties.headers?["id"]?.stringValue ?? bad.id, properties: bad.properties,
                  reason: bad.reason, exception: bad.exception)
    }
}

@Suite("One oversized message never wedges a worker")
struct OversizedHeaderTests {
    @Test("70 KB and 120 KB task names, headers too large to carry and an unpublishable retry end as dead letters with their reason among good tasks, without a reconnect")
    func oversizedAmongGood() async throws {
        let queue = TestEnvironment.uniqueQueue("oversized")
        let logs = LogRecorder()
        let worker = try await TestWorker(queue: queue, concurrency: 4, logs: logs) { registry in
            registry.register("test.retry-always") { context in
                throw context.retry(after: 0, because: TaskError("again"))
            }
        }
        let client = try testClient(queue: queue)
        let raw = try RawBroker()
        let budget = raw.connection.publishLimits.propertiesBudget
        let bad = oversizedMessages(budget: budget)
        var good: [TaskHandle] = []
        for (index, message) in bad.enumerated() {
            try await raw.connection.publish(OutgoingMessage(routingKey: queue, properties: message.properties, body: goodBody))
            for offset in 0..<4 { good.append(try await client.send(taskNamed: "conveyor.add", args: [.int(Int64(index)), .int(Int64(offset))])) }
        }
        for (index, handle) in good.enumerated() {
            #expect(try await handle.get(timeout: 60) == .int(Int64(index / 4 + index % 4)), "good task \(index)")
        }
        let letters = try await raw.drain(WorkQueue.deadLetterName(for: queue), expecting: bad.count, timeout: 60)
        #expect(letters.count == bad.count)
        for message in bad {
            let letter = letters.first { $0.properties.headers?["id"]?.stringValue == message.id }
            let found = try #require(letter, "\(message.name) is not in the dead letters")
            let headers = found.properties.headers ?? [:]
            #expect(headers[DeadLetterHeader.reason]?.stringValue == message.reason, "\(message.name)")
            #expect((headers[DeadLetterHeader.error]?.stringValue?.utf8.count ?? 0) > 0, "\(message.name)")
            #expect((headers[DeadLetterHeader.error]?.stringValue?.utf8.count ?? .max) <= 1_024, "\(message.name)")
            #expect(found.body == goodBody, "\(message.name): body kept byte for byte")
            #expect(found.properties.encodedSize <= budget)
            // The letter is confirmed before FAILURE is stored: wait for the outcome itself.
            let result = try await client.wait(for: message.id, timeout: hangGuard)
            #expect(result.state == .failure, "\(message.name)")
            #expect(result.exception?.type == message.exception, "\(message.name): \(String(describing: result.exception))")
        }
        // The message 100 bytes short of a frame kept its id but not its 130 KB task header.
        let reduced = try #require(letters.first { $0.properties.headers?["id"]?.stringValue == bad[3].id })
        #expect(reduced.properties.headers?["task"] == nil)
        #expect(reduced.properties.headers?[DeadLetterHeader.originalReason] == nil)
        #expect(try await raw.connection.inspect(queue: queue).messageCount == 0)
        // Nothing above cost a connection.
        #expect(logs.count("amqp connection lost") == 0)
        #expect(logs.count("amqp connection failed") == 0)
        #expect(logs.count("dead letter not published; message requeued") == 0)
        try await worker.stop()
        _ = try? await raw.connection.delete(queue: WorkQueue.deadLetterName(for: queue))
        await raw.connection.close()
        await client.close()
    }

    @Test("the worker daemon given the issue's 70 KB and 120 KB messages dead-letters them, keeps serving, and exits on SIGTERM")
    func daemonExitsOnSigterm() async throws {
        try TestEnvironment.requireServices()
        let queue = TestEnvironment.uniqueQueue("oversized-daemon")
        let name = "oversized@\(queue)"
        let process = try ManagedProcess(try TestEnvironment.requireBinary("conveyor-worker"),
                                         ["--queues", queue, "--concurrency", "4", "--hostname", name, "--grace-period", "2"],
                                         environment: ["CONVEYOR_BROKER_URL": TestEnvironment.brokerURL,
                                                       "CONVEYOR_RESULT_URL": TestEnvironment.resultURL], name: name)
        try await process.waitForLog("worker ready", timeout: hangGuard)
        let client = try testClient(queue: queue)
        let raw = try RawBroker()
        let bad = oversizedMessages(budget: raw.connection.publishLimits.propertiesBudget).prefix(2)
        for message in bad {
            try await raw.connection.publish(OutgoingMessage(routingKey: queue, properties: message.properties, body: goodBody))
        }
        let after = try await client.send(taskNamed: "conveyor.add", args: [40, 2])
        #expect(try await after.get(timeout: 60) == 42)
        for message in bad {
            #expect(try await client.wait(for: message.id, timeout: 60).state == .failure, "\(message.name)")
        }
        let letters = try await DeadLetterBox(client: client).list(queue: queue)
        #expect(Set(letters.compactMap(\.taskId)) == Set(bad.map(\.id)))
        #expect(letters.allSatisfy { $0.reason == "unknown-task" })
        process.signal(SIGTERM)
        // Exits by itself (the guard is generous; ops/chaos --scenario oversized-headers measures the time).
        #expect(try await process.waitForExit(timeout: 60) == 0)
        #expect(!process.log.contains("amqp connection lost"))
        _ = try await DeadLetterBox(client: client).drop(queue: queue)
        await raw.connection.close()
        await client.close()
    }
}

private struct TaskError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
