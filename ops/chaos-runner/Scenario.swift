import Foundation

/// A fault scenario: set up, load, inject, heal, drain, judge.
struct Scenario: Sendable {
    let name: String
    let summary: String
    let run: @Sendable (ScenarioContext) async throws -> Verdict
}

/// Every scenario, in the order the suite runs them.
enum Scenarios {
    static let all: [Scenario] = [workerKill, brokerRestart, delayedAcrossRestart, redisRestart, networkBlackhole,
                                  poisonAndTimeLimits, consumerTimeout, memoryAlarm, clusterNodeDown, badInputBulk,
                                  oversizedHeaders, lockFrozenHolder, lockKilledHolder, lockFencing, redisFailover,
                                  rateLimitKill, emailServerDown, emailWorkerKill, emailDomainRefuses,
                                  emailCrashWindows, beatFailover]
}

/// Runs `body`, then `cleanup` whether it threw or not.
func withCleanup<T>(_ cleanup: () async -> Void, _ body: () async throws -> T) async throws -> T {
    do {
        let value = try await body()
        await cleanup()
        return value
    } catch {
        await cleanup()
        throw error
    }
}
