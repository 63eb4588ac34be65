import Conveyor
import Foundation
import Testing
import TestSupport

/// Celery canvas built in Python whose steps hop between a Swift worker and a Python worker:
/// each side must read the other's embedded chain and links and dispatch the next step.
@Suite("Chains and links across Swift and Python workers")
struct MixedCanvasTests {
    @Test("a Python-built chain and link run step by step on Swift and Python workers, and failures end the chain")
    func chainsAcrossLanguages() async throws {
        try TestEnvironment.requirePython()
        let swiftQueue = TestEnvironment.uniqueQueue("canvas-swift")
        let pyQueue = TestEnvironment.uniqueQueue("canvas-py")
        let result = try await withSwiftWorker(queue: swiftQueue) {
            try await withPythonWorker(queue: pyQueue) {
                try await runPython("chains.py", [swiftQueue, pyQueue])
            }
        }

        // (2 + 2) on Swift → × 10 on Python → + 5 on Swift.
        let mixed = try #require(result["mixed"])
        #expect(mixed["value"] == 45, "\(mixed.text(.compact))")
        #expect(mixed["parent_values"] == [4, 40])
        let stepIds = try #require(mixed["step_ids"]?.array)
        #expect(mixed["stored_parent_ids"] == [nil, stepIds[0], stepIds[1]])

        // The Python step raises ValueError: the chain's result raises it, and Celery's worker marks
        // the Swift step after it failed with the same exception.
        let pyFails = try #require(result["python_step_fails"])
        #expect(pyFails["error"]?["type"] == "ValueError", "\(pyFails.text(.compact))")
        #expect(pyFails["error"]?["message"] == "middle broke")
        #expect(pyFails["state"] == "FAILURE")
        #expect(pyFails["stored_type"] == "ValueError")

        // The Swift step fails: the Swift worker marks the Python step after it failed, as Celery does.
        let swiftFails = try #require(result["swift_step_fails"])
        #expect(swiftFails["error"]?["type"] == "RuntimeError", "\(swiftFails.text(.compact))")
        #expect(swiftFails["error"]?["message"] == "swift broke")
        #expect(swiftFails["state"] == "FAILURE")
        #expect(swiftFails["stored_type"] == "RuntimeError")

        // link: the Python callback got the Swift result (1 + 2) prepended: 3 × 3.
        let link = try #require(result["link"])
        #expect(link["parent"]?["value"] == 3, "\(link.text(.compact))")
        #expect(link["callback"]?["value"] == 9)
        #expect(link["callback_parent_id"] == link["parent_id"])

        // link_error: an old-style errback receives the failed task's id, Swift → Python and back.
        let pythonErrback = try #require(result["swift_fails_python_errback"])
        #expect(pythonErrback["errback"]?["value"] == ["failed_task_id": pythonErrback["failed_id"] ?? nil], "\(pythonErrback.text(.compact))")
        let swiftErrback = try #require(result["python_fails_swift_errback"])
        #expect(swiftErrback["errback"]?["value"] == ["args": [swiftErrback["failed_id"] ?? nil], "kwargs": [:]], "\(swiftErrback.text(.compact))")
    }
}
