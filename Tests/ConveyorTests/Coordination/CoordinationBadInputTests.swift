@testable import Conveyor
import Foundation
import Testing
import TestSupport

@Suite("Coordination: bad input is refused at the call site")
struct CoordinationBadInputTests {
    private func refused(_ body: () async throws -> Void) async -> Bool {
        do {
            try await body()
            return false
        } catch let error as ConveyorError {
            return error.code == .invalidArguments || error.code == .invalidConfiguration
        } catch {
            return false
        }
    }

    @Test("leases of zero, negative, sub-millisecond or over 30 days, and empty or oversized names, are refused")
    func badLocks() async throws {
        let client = try testClient(queue: TestEnvironment.uniqueQueue("bad"))
        let locks = client.locks
        let name = uniqueLockName("bad")
        for lease: Duration in [.zero, .seconds(-1), .nanoseconds(10), .seconds(30 * 86_400 + 1), .seconds(Int64.max)] {
            #expect(await refused { _ = try await locks.tryAcquire(name, lease: lease) }, "\(lease)")
            #expect(await refused { _ = try await locks.acquire(name, lease: lease) }, "\(lease)")
        }
        for bad in ["", String(repeating: "x", count: 513)] {
            #expect(await refused { _ = try await locks.tryAcquire(bad, lease: .seconds(1)) })
        }
        #expect(await refused { _ = try await locks.acquire(name, lease: .seconds(1), wait: .seconds(-1)) })
        for seconds in [0, -1, .nan, .infinity, 1e300] {
            #expect(throws: ConveyorError.self) { _ = try CoordinationInput.lease(seconds: seconds, "lease") }
        }
        #expect(try await locks.list(prefix: name).isEmpty)
        await client.close()
    }

    @Test("caps of 0 or fewer slots, bad leases and bad retry delays are refused, in code and in worker defaults")
    func badCaps() async throws {
        let client = try testClient(queue: TestEnvironment.uniqueQueue("bad"))
        let caps = ConcurrencyCaps(client: client)
        for limit in [0, -1, Int.min] {
            #expect(await refused { _ = try await caps.tryAcquire("k", limit: limit, lease: .seconds(1)) })
        }
        #expect(await refused { _ = try await caps.tryAcquire("k", limit: 1, lease: .zero) })
        #expect(await refused { _ = try await caps.tryAcquire("", limit: 1, lease: .seconds(1)) })
        for cap in [ConcurrencyCap(limit: 0), ConcurrencyCap(limit: -3), ConcurrencyCap(limit: 1, lease: .zero),
                    ConcurrencyCap(limit: 1, retryAfter: .nan), ConcurrencyCap(limit: 1, retryAfter: -1),
                    ConcurrencyCap(limit: 1, perArgument: ""), ConcurrencyCap(limit: 1, position: -1)] {
            var registry = TaskRegistry()
            registry.register("test.capped", defaults: TaskDefaults(concurrencyCap: cap)) { _ in .null }
            #expect(throws: ConveyorError.self) { try registry.validate() }
        }
        await client.close()
    }

    @Test("unique windows that are not finite or not above 0, bad keys and unhashable arguments are refused before publishing")
    func badUnique() async throws {
        let queue = TestEnvironment.uniqueQueue("bad")
        let client = try testClient(queue: queue)
        for window in [0, -5, .nan, .infinity, 1e12] {
            #expect(await refused { _ = try await client.send(taskNamed: "conveyor.add", options: TaskOptions(unique: .for(window))) })
            #expect(await refused {
                _ = try await client.send(taskNamed: "conveyor.add", options: TaskOptions(unique: .until(.success, within: window)))
            })
        }
        for key in ["", String(repeating: "k", count: 600)] {
            #expect(await refused { _ = try await client.send(taskNamed: "conveyor.add", options: TaskOptions(unique: .for(5), uniqueKey: key)) })
        }
        #expect(await refused { _ = try await client.send(taskNamed: "conveyor.add", args: [.double(.nan)], options: TaskOptions(unique: .for(5))) })
        #expect(await refused { _ = try await client.send(taskNamed: "conveyor.add", kwargs: ["x": ["y": .double(.infinity)]],
                                                          options: TaskOptions(unique: .for(5))) })
        let batch = await client.send(batch: [.init(name: "conveyor.add", options: TaskOptions(unique: .for(5)))])
        #expect(batch.count == 1)
        if case let .failure(error) = batch[0] { #expect(error.code == .invalidArguments) } else { Issue.record("a unique batch entry was sent") }
        // Nothing was published by any of these.
        #expect((try await Fleet(client: client).queue(queue))?.ready ?? 0 == 0)
        await client.close()
    }

    @Test("derived unique keys are canonical: kwargs order and 2 versus 2.0 do not matter, different values do")
    func canonicalKeys() throws {
        let a = try Uniqueness.key(task: "t", args: [1, 2.0], kwargs: ["x": 1, "y": ["b": 2, "a": 1]], custom: nil)
        let b = try Uniqueness.key(task: "t", args: [1, 2], kwargs: ["y": ["a": 1, "b": 2], "x": 1], custom: nil)
        let c = try Uniqueness.key(task: "t", args: [1, 3], kwargs: ["x": 1, "y": ["b": 2, "a": 1]], custom: nil)
        let d = try Uniqueness.key(task: "u", args: [1, 2], kwargs: ["x": 1, "y": ["b": 2, "a": 1]], custom: nil)
        #expect(a == b)
        #expect(a != c)
        #expect(a != d)
    }
}
