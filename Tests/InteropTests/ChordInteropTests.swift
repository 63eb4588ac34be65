import Conveyor
import Foundation
import Logging
import Testing
import TestSupport

/// Chords and groups across a Swift worker and a real Celery 5.7 worker, sent from Python and
/// from Swift: both count the same chord in Redis, both fail a body with the same `ChordError`,
/// and a group saved by one side restores on the other.
@Suite("Chords and groups across Swift and Python")
struct ChordInteropTests {
    @Test("chords built in Python complete whichever side runs the header and the body; groups restore both ways")
    func pythonBuiltChords() async throws {
        try TestEnvironment.requirePython()
        let swiftQueue = TestEnvironment.uniqueQueue("chord-swift")
        let pyQueue = TestEnvironment.uniqueQueue("chord-py")
        try await withSwiftWorker(queue: swiftQueue) {
            try await withPythonWorker(queue: pyQueue) {
                try await withClient(queue: swiftQueue) { client in
                    let swiftGroup = try await client.group([Signature(task: "conveyor.add", args: [1, 2]),
                                                             Signature(task: "py.mul", args: [3, 4]).on(queue: pyQueue)])
                    try await swiftGroup.save()
                    let result = try await runPython("chords.py", [swiftQueue, pyQueue, swiftGroup.id])

                    #expect(result["python_header_swift_body"]?["value"] == ["args": [[0, 10, 20, 30, 40]], "kwargs": [:]],
                            "\(result.text(.compact))")
                    #expect(result["swift_header_python_body"]?["value"] == 15)
                    #expect(result["mixed_header"]?["value"] == ["args": [[2, 9, 20, 25]], "kwargs": [:]])

                    let swiftFails = try #require(result["swift_header_fails"])
                    #expect(swiftFails["error"]?["type"] == "ChordError", "\(swiftFails.text(.compact))")
                    #expect(swiftFails["error"]?["message"] == .string("Dependency \(swiftFails["failed_id"]?.string ?? "") raised RuntimeError('header broke')"))
                    #expect(swiftFails["errback"]?["value"] == ["failed_task_id": swiftFails["body_id"] ?? nil])

                    let pyFails = try #require(result["python_header_fails"])
                    #expect(pyFails["error"]?["type"] == "ChordError", "\(pyFails.text(.compact))")
                    #expect(pyFails["error"]?["message"] == .string("Dependency \(pyFails["failed_id"]?.string ?? "") raised ValueError('python broke')"))

                    // 1 + 1 → (2 + 10, 2 × 3) → 12 + 6 → + 100.
                    #expect(result["nested"]?["value"] == 118, "\(result["nested"]?.text(.compact) ?? "")")
                    // (1 + 2, 2 × 2) → 3 + 4 → + 1000.
                    #expect(result["chord_then_step"]?["value"] == 1007)

                    #expect(result["restored"]?["ids"] == .array(swiftGroup.taskIds.map(JSON.string)))
                    #expect(result["restored"]?["values"] == [3, 12])

                    let saved = try #require(result["saved"]?["id"]?.string)
                    let restored = try #require(try await client.restoreGroup(saved))
                    #expect(.array(restored.taskIds.map(JSON.string)) == result["saved"]?["ids"])
                    #expect(try await restored.get(timeout: hangGuard) == [6, 8])
                }
            }
        }
    }

    @Test("chords and chains built in Swift complete on mixed workers, and a failing Python header task fails a Swift body")
    func swiftBuiltChords() async throws {
        try TestEnvironment.requirePython()
        let swiftQueue = TestEnvironment.uniqueQueue("chord-swift")
        let pyQueue = TestEnvironment.uniqueQueue("chord-py")
        try await withSwiftWorker(queue: swiftQueue) {
            try await withPythonWorker(queue: pyQueue) {
                try await withClient(queue: swiftQueue) { client in
                    // A body or chain step without a queue goes to the default queue of whichever
                    // side applies it (as in Celery): here every signature names its queue.
                    func py(_ task: String, _ args: [JSON]) -> Signature { Signature(task: task, args: args).on(queue: pyQueue) }
                    func swift(_ task: String, _ args: [JSON] = []) -> Signature { Signature(task: task, args: args).on(queue: swiftQueue) }

                    let mixed = try await client.chord(header: [swift("conveyor.add", [1, 1]), py("py.mul", [3, 3])],
                                                       body: py("py.tsum", []))
                    #expect(try await mixed.get(timeout: hangGuard) == 11)

                    let pythonHeader = try await client.chord(header: [py("py.mul", [2, 5]), py("py.mul", [3, 5])],
                                                              body: swift("conveyor.echo"))
                    #expect(try await pythonHeader.get(timeout: hangGuard)["args"] == [[10, 15]])

                    let errback = py("py.on_error", []).frozen()
                    var body = swift("conveyor.echo")
                    body.setOption("link_error", [.object(errback.json)])
                    let failing = py("py.fail", ["py broke"]).frozen()
                    let failed = try await client.chord(header: [failing, swift("conveyor.add", [2, 2])], body: body)
                    let outcome = try await failed.wait(timeout: hangGuard)
                    #expect(outcome.state == .failure)
                    #expect(outcome.exception?.type == "ChordError")
                    #expect(outcome.exception?.message == "Dependency \(failing.taskId ?? "") raised ValueError('py broke')")
                    let errbackValue = try await client.wait(for: try #require(errback.taskId), timeout: hangGuard).get()
                    #expect(errbackValue == ["failed_task_id": .string(failed.id)])

                    // The Python worker applies the Swift-built chord that follows its step: 1 × 2 →
                    // (2 + 10, 2 × 3) → echo.
                    let chained = try await client.chain([py("py.mul", [1, 2]),
                                                          .group([swift("conveyor.add", [10]), py("py.mul", [3])]),
                                                          swift("conveyor.echo")])
                    #expect(try await chained.get(timeout: hangGuard)["args"] == [[12, 6]])
                }
            }
        }
    }

    @Test("a queue declared with x-max-priority by Swift is declared the same way by Celery's task_queue_max_priority, both ways")
    func priorityQueuesDeclareAlike() async throws {
        try TestEnvironment.requirePython()
        let environment = ["CONVEYOR_QUEUE_MAX_PRIORITY": "10"]
        // Swift first: the client declares the queue, then Celery declares it again.
        let swiftFirst = TestEnvironment.uniqueQueue("priority-swift-first")
        var configuration = TestEnvironment.configuration(queue: swiftFirst)
        configuration.maxPriority = 10
        var logger = Logger(label: "test.client")
        logger.logLevel = .critical
        let client = try ConveyorClient(configuration: configuration, logger: logger)
        try await client.declare(queue: swiftFirst)
        try await withPythonWorker(queue: swiftFirst, environment: environment) {
            let handle = try await client.send(taskNamed: "py.mul", args: [6, 7], options: TaskOptions(priority: 9))
            #expect(try await handle.get(timeout: hangGuard) == 42)
        }
        // Celery first: its worker declares the queue, then a Swift worker declares it again.
        let pythonFirst = TestEnvironment.uniqueQueue("priority-python-first")
        configuration.defaultQueue = pythonFirst
        try await withPythonWorker(queue: pythonFirst, environment: environment) {
            let worker = try await TestWorker(queue: pythonFirst, configuration: configuration)
            try await worker.stop()
        }
        await client.close()
    }
}
