import ArgumentParser
import Conveyor
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// `conveyor-chaos lock-holder`: the lock holder the lock scenarios freeze and kill (a process of
/// its own, so SIGSTOP and kill -9 hit a real holder). Takes the lock, says `acquired TOKEN`,
/// waits for the go file, then writes to the fenced resource with its token and says whether
/// the write was accepted or refused.
struct LockHolderCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "lock-holder",
                                                    abstract: "A lock holder for the lock scenarios (started by the runner).")

    @Option(help: "Redis URL.")
    var redis: String

    @Option(help: "The lock (and fenced resource) name.")
    var name: String

    @Option(help: "Lease, milliseconds (1 to 600000).")
    var leaseMs: Int

    @Option(help: "Write to the fence once this file exists (checked every 10 ms, for at most 120 s).")
    var go: String

    func validate() throws {
        guard (1...600_000).contains(leaseMs) else { throw ValidationError("--lease-ms must be 1...600000, not \(leaseMs)") }
    }

    func run() async throws {
        var configuration = ConveyorConfiguration(resultURL: redis)
        configuration.connectTimeout = 10
        let client = try ConveyorClient(configuration: configuration, name: "lock-holder")
        let locks = client.locks
        let lease = try await locks.acquire(name, lease: .milliseconds(leaseMs), wait: .seconds(30))
        say("acquired \(lease.token)")
        let deadline = Date().addingTimeInterval(120)
        while !FileManager.default.fileExists(atPath: go) {
            guard Date() < deadline else { throw ChaosError("no go file within 120 s") }
            try await Task.sleep(for: .milliseconds(10))
        }
        say("resumed held=\(lease.isHeld)")
        do {
            try await locks.fence(name).write("holder \(lease.token)", token: lease.token)
            say("write accepted")
        } catch let error as LockError where error.code == .staleToken {
            say("write refused")
        }
        say("released \(try await lease.release())")
        await client.close()
    }

    private func say(_ line: String) {
        FileHandle.standardOutput.write(Data((line + "\n").utf8))
    }
}
