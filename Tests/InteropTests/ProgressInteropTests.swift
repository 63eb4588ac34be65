import Conveyor
import Foundation
import Synchronization
import Testing
import TestSupport

@Suite("Progress from a Swift task, read by Python Celery")
struct ProgressInteropTests {
    @Test("AsyncResult.state is PROGRESS and .info holds current, total and the extra info")
    func pythonReadsProgress() async throws {
        try TestEnvironment.requirePython()
        let queue = TestEnvironment.uniqueQueue("progress-py")
        let finish = Mutex(false)
        let worker = try await TestWorker(queue: queue) { registry in
            registry.register("test.progress-py") { context in
                try await context.progress(done: 4, total: 7, info: ["file": "README.md"])
                try await eventually(timeout: hangGuard, every: 0.01, "the test let the task finish") { finish.withLock { $0 } }
                return "ok"
            }
        }
        try await withClient(queue: queue) { client in
            let handle = try await client.send(taskNamed: "test.progress-py")
            try await eventually(timeout: hangGuard, "PROGRESS stored") { try await client.result(for: handle.id).state == "PROGRESS" }
            let seen = try await runPython("read_state.py", [handle.id])
            #expect(seen["state"] == "PROGRESS")
            #expect(seen["info"] == ["current": 4, "total": 7, "file": "README.md"])
            finish.withLock { $0 = true }
            #expect(try await handle.get(timeout: hangGuard) == "ok")
            let done = try await runPython("read_state.py", [handle.id])
            #expect(done["state"] == "SUCCESS")
        }
        try await worker.stop()
    }
}

@Suite("Unique sends to a Python Celery worker")
struct UniqueInteropTests {
    @Test("a Python worker runs a unique task (x-conveyor-unique header) like any other; it does not free the claim, the window does")
    func pythonRunsUniqueTask() async throws {
        let queue = TestEnvironment.uniqueQueue("unique-py")
        try await withPythonWorker(queue: queue) {
            try await withClient(queue: queue) { client in
                let options = TaskOptions(unique: .until(.success, within: 60), uniqueKey: "interop:\(UUID().uuidString)")
                let handle = try await client.send(taskNamed: "py.mul", args: [6, 7], options: options)
                #expect(try await handle.get(timeout: hangGuard) == 42)
                let again = try await client.send(taskNamed: "py.mul", args: [6, 7], options: options)
                #expect(again.id == handle.id)
            }
        }
    }
}
