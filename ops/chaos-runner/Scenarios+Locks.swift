import Conveyor
import Foundation
import IOSupport
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

extension Scenarios {
    static let lockFrozenHolder = Scenario(
        name: "lock-sigstop", summary: "a lock holder frozen (SIGSTOP) past its lease while another takes the lock; its stale token is refused") { context in
        var verdict = Verdict()
        let client = try context.lockClient()
        let name = "chaos:frozen:\(UUID().uuidString.prefix(8))"
        let lease = 1000
        let holder = try await LockHolderProcess.start(context, name: name, leaseMs: lease)
        let stale = try await holder.token()
        holder.child.signal(SIGSTOP)
        let frozenAt = monotonicSeconds()
        // The lease ends in Redis while the holder cannot renew it; the next holder gets a higher token.
        let next = try await client.locks.acquire(name, lease: .seconds(30), wait: .seconds(Double(lease) / 1000 + 30))
        let waited = monotonicSeconds() - frozenAt
        try await client.locks.fence(name).write("runner \(next.token)", token: next.token)
        holder.go()
        holder.child.signal(SIGCONT)
        let outcome = try await holder.line(startingWith: "write ")
        let held = try await holder.line(startingWith: "resumed ")
        _ = await holder.child.wait()
        if next.token <= stale { verdict.problems.append("the next holder's token \(next.token) is not above the frozen one's \(stale)") }
        if outcome != "write refused" { verdict.problems.append("the frozen holder's write with stale token \(stale) was \(outcome)") }
        if held != "resumed held=false" { verdict.problems.append("the frozen holder still believed it held the lock (\(held))") }
        let fenced = try await client.locks.fence(name).read()
        if fenced.token != next.token { verdict.problems.append("the resource's last token is \(fenced.token), not \(next.token)") }
        verdict.notes.append(String(format: "lease %d ms; next holder in %.2f s with token %lld; frozen holder's token %lld refused; it saw held=false",
                                    lease, waited, next.token, stale))
        try await next.release()
        await client.close()
        return verdict
    }

    static let lockKilledHolder = Scenario(
        name: "lock-kill-9", summary: "a lock holder killed with kill -9: the lock is free again within lease + 1 s") { context in
        var verdict = Verdict()
        let client = try context.lockClient()
        let trials = context.size(quick: 1, full: 3)
        let lease = 2000
        for _ in 0..<trials {
            let name = "chaos:killed:\(UUID().uuidString.prefix(8))"
            let holder = try await LockHolderProcess.start(context, name: name, leaseMs: lease)
            let token = try await holder.token()
            holder.child.signal(SIGKILL)
            let killedAt = monotonicSeconds()
            _ = await holder.child.wait()
            let next = try await client.locks.acquire(name, lease: .seconds(30), wait: .seconds(Double(lease) / 1000 + 30))
            let freeAfter = monotonicSeconds() - killedAt
            if freeAfter > Double(lease) / 1000 + 1 {
                verdict.problems.append(String(format: "the lock was free only %.2f s after the kill (lease %d ms)", freeAfter, lease))
            }
            if next.token <= token { verdict.problems.append("token \(next.token) after \(token)") }
            verdict.notes.append(String(format: "lease %d ms: free %.2f s after kill -9 (bound %.1f s)", lease, freeAfter, Double(lease) / 1000 + 1))
            try await next.release()
        }
        await client.close()
        return verdict
    }

    /// In-process trials, many at once: holder A takes the lock, is paused (its renewals stop,
    /// as in a GC pause or SIGSTOP) until its lease ran out and holder B took the lock and
    /// wrote; then A, which checked `isHeld` just before its pause, writes with its old token.
    /// A fencing violation is that write being accepted. Without the fence every trial would
    /// have been one (A's lease check said yes).
    static let lockFencing = Scenario(
        name: "lock-fencing", summary: "holders paused past their leases write with stale tokens: 0 accepted in 1,000 trials") { context in
        var verdict = Verdict()
        let trials = context.size(quick: 100, full: 1000)
        let lanes = 8
        let clientA = try context.lockClient(), clientB = try context.lockClient()
        let run = String(UUID().uuidString.prefix(8))
        let tally = FencingTally()
        try await withThrowingTaskGroup(of: Void.self) { group in
            for lane in 0..<lanes {
                group.addTask {
                    let locksA = Locks(client: clientA, holder: "A"), locksB = Locks(client: clientB, holder: "B")
                    for trial in stride(from: lane, to: trials, by: lanes) {
                        let name = "chaos:fencing:\(run):\(trial)"
                        let fence = locksA.fence(name)
                        // Not renewed: A's renewals never run during its pause.
                        let a = try await locksA.acquire(name, lease: .milliseconds(Int64.random(in: 20...60)), wait: .seconds(30), renew: false)
                        try await fence.write("A", token: a.token)
                        let believed = a.isHeld
                        // The pause: A does nothing until its lease ran out and B has written.
                        let b = try await locksB.acquire(name, lease: .seconds(10), wait: .seconds(30))
                        try await fence.write("B", token: b.token)
                        let accepted = try await fence.check(token: a.token)
                        try await b.release()
                        let (value, _) = try await fence.read()
                        tally.counts.withLock { t in
                            t.trials += 1
                            if believed { t.believedHeld += 1 }
                            if accepted || value != "B" { t.violations += 1 } else { t.refused += 1 }
                        }
                    }
                }
            }
            try await group.waitForAll()
        }
        let t = tally.counts.withLock { $0 }
        if t.violations > 0 { verdict.problems.append("\(t.violations) fencing violations in \(t.trials) trials") }
        if t.trials != trials { verdict.problems.append("\(t.trials) of \(trials) trials ran") }
        verdict.notes.append("\(t.trials) trials, \(t.violations) fencing violations, \(t.refused) stale writes refused; "
            + "\(t.believedHeld) stale holders believed they held the lock just before their pause")
        await clientA.close()
        await clientB.close()
        return verdict
    }
}

/// What the fencing trials counted.
final class FencingTally: Sendable {
    let counts = Mutex((violations: 0, refused: 0, believedHeld: 0, trials: 0))
}

extension ScenarioContext {
    /// A client for lock work on the private Redis.
    func lockClient() throws -> ConveyorClient {
        var configuration = ConveyorConfiguration(resultURL: redisURL)
        configuration.connectTimeout = 30
        return try ConveyorClient(configuration: configuration, name: "chaos-locks", logger: logger)
    }
}

/// A `conveyor-chaos lock-holder` child and what it says.
struct LockHolderProcess {
    let child: Subprocess.Child
    let output: URL
    let goFile: URL

    static func start(_ context: ScenarioContext, name: String, leaseMs: Int) async throws -> LockHolderProcess {
        let binary = context.workerBinary.deletingLastPathComponent().appendingPathComponent("conveyor-chaos")
        let id = UUID().uuidString.prefix(8)
        let output = context.infrastructure.logs.appendingPathComponent("lock-holder-\(id).log")
        let goFile = context.infrastructure.logs.appendingPathComponent("lock-holder-\(id).go")
        let child = try Subprocess.spawn(binary.path, ["lock-holder", "--redis", context.redisURL, "--name", name, "--lease-ms", "\(leaseMs)",
                                                       "--go", goFile.path],
                                         standardOutput: .file(output.path), standardError: .file(output.path))
        return LockHolderProcess(child: child, output: output, goFile: goFile)
    }

    /// The token it acquired.
    func token() async throws -> Int64 {
        let line = try await line(startingWith: "acquired ")
        guard let token = Int64(line.dropFirst("acquired ".count)) else { throw ChaosError("lock holder said '\(line)'") }
        return token
    }

    /// Lets it write.
    func go() {
        _ = FileManager.default.createFile(atPath: goFile.path, contents: Data())
    }

    /// The first line it printed that starts with `prefix` (waits for it, at most 120 s).
    func line(startingWith prefix: String) async throws -> String {
        let deadline = Date().addingTimeInterval(120)
        while Date() < deadline {
            let text = (try? String(contentsOf: output, encoding: .utf8)) ?? ""
            if let line = text.split(separator: "\n").first(where: { $0.hasPrefix(prefix) }) { return String(line) }
            try await Task.sleep(for: .milliseconds(10))
        }
        throw ChaosError("lock holder printed no '\(prefix)' line within 120 s; see \(output.path)")
    }
}
