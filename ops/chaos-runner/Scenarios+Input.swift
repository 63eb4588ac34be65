import AMQP
import Conveyor
import Foundation

extension Scenarios {
    /// What kind of bad message, and the dead-letter reason it must get.
    private struct BadKind: Sendable {
        let reason: String
        let task: String?
        let contentType: String
        let body: [UInt8]
    }

    private static let goodBody = #"[[1, 2], {}, {"callbacks": null, "errbacks": null, "chain": null, "chord": null}]"#

    private static let badKinds: [BadKind] = [
        BadKind(reason: "malformed-body", task: "conveyor.add", contentType: "application/json", body: Array("[[1, 2], {".utf8)),
        BadKind(reason: "malformed-body", task: "conveyor.add", contentType: "application/json", body: Array("[[1, 2], {}]".utf8)),
        BadKind(reason: "missing-header", task: nil, contentType: "application/json", body: Array(goodBody.utf8)),
        BadKind(reason: "unknown-task", task: "chaos.nope", contentType: "application/json", body: Array(goodBody.utf8)),
        BadKind(reason: "content-type", task: "conveyor.add", contentType: "application/x-python-serialize", body: [0x80, 0x04, 0x95]),
        BadKind(reason: "malformed-body", task: "conveyor.echo", contentType: "application/json",
                body: Array(#"[["x"#.utf8) + [0xC3, 0x28] + Array(#""], {}, {}]"#.utf8)),
        BadKind(reason: "too-large", task: "conveyor.echo", contentType: "application/json",
                body: Array(#"[[""#.utf8) + [UInt8](repeating: 97, count: 200_000) + Array(#""], {}, {}]"#.utf8)),
    ]

    static let badInputBulk = Scenario(name: "bad-input-bulk", summary: "thousands of malformed messages mixed with good tasks") { context in
        let stage = try await context.stage("bad", broker: context.brokerURL(), workers: ["bad-a", "bad-b"],
                                            workerExtra: ["--max-message-size", "100000"])
        return try await withCleanup({ await stage.tearDown() }) {
            let count = context.size(quick: 700, full: 3500)
            let raw = stage.client.brokerConnection
            let queue = stage.queue
            let bad = Task { () -> [String: String] in
                var expected: [String: String] = [:]
                for index in 0..<count {
                    let kind = badKinds[index % badKinds.count]
                    let id = UUID().uuidString.lowercased()
                    var headers: FieldTable = ["lang": .string("py"), "id": .string(id), "retries": .int32(0)]
                    if let task = kind.task { headers["task"] = .string(task) }
                    let message = OutgoingMessage(routingKey: queue, properties: BasicProperties(
                        contentType: kind.contentType, contentEncoding: "utf-8", headers: headers, deliveryMode: 2, correlationId: id),
                        body: kind.body)
                    if (try? await raw.publish(message)) != nil { expected[id] = kind.reason }
                }
                return expected
            }
            await context.publish(stage.client, ledger: stage.ledger, count: count, task: "conveyor.add", args: [2, 3], pause: 0.01)
            let expected = await bad.value
            for id in expected.keys { await stage.ledger.recordOK(id) }
            var verdict = try await stage.verdict()
            let letters = try await DeadLetterBox(client: stage.client).list(queue: queue, limit: 100_000)
            let wrong = letters.filter { letter in letter.taskId.flatMap { expected[$0] }.map { $0 != letter.reason } ?? false }.count
            let found = Set(letters.compactMap(\.taskId))
            let missing = expected.keys.filter { !found.contains($0) }.count
            if wrong > 0 { verdict.problems.append("\(wrong) dead letters with the wrong reason") }
            if missing > 0 { verdict.problems.append("\(missing) bad messages not in the dead letters") }
            verdict.notes.append("\(expected.count) bad messages, \(letters.count) dead letters")
            return verdict
        }
    }
}
