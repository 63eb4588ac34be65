import Foundation

extension Scenarios {
    static let redisRestart = Scenario(name: "redis-restart", summary: "Redis killed (-9) and restarted mid-load (workers with --loops 2)") { context in
        // Two loops each: the second loop's own Redis connection reconnects too.
        try await context.standard("redis", workers: ["redis-a", "redis-b"], count: context.size(quick: 600, full: 3000),
                                   workerExtra: ["--loops", "2"]) { _ in
            try await Task.sleep(for: .milliseconds(800))
            try await context.infrastructure.run("redis-kill", "\(ScenarioContext.redisPort)")
            try await Task.sleep(for: .seconds(3))
            try await context.infrastructure.run("redis-start", "\(ScenarioContext.redisPort)")
            return Date()
        }
    }
}
