import Foundation
import IOSupport
import Logging

/// Rate limits at admission: a task over its limit is not run and does not wait in its slot;
/// it is deferred (`deferRun`, reason `rate-limit`) to come back at its place in line.
extension Worker {
    /// The reason deferrals by a rate limit are counted under.
    static let rateLimitReason = "rate-limit"

    /// Checks a batch against the rate limits; defers those over their limit (each releases its
    /// slot at once) and returns the rest, in order. No round trip when no task of the
    /// batch is limited; one for all fleet-limited tasks of the batch otherwise.
    ///
    /// Redis down: fail closed. A fleet-limited task (or any task before the run-time limits
    /// were ever read) is deferred by `RateLimitGate.unavailableWait` with jitter, not run
    /// unlimited; such a task could not start anyway, as starting stores its state in Redis.
    func admitUnderRateLimits(_ runnables: [Runnable]) async -> [Runnable] {
        let gate = rateLimits
        if !gate.isLoaded {
            do {
                try await gate.refresh(logger: logger)
            } catch {
                logger.warning("rate limits unknown (Redis unavailable); tasks deferred", metadata: ["error": "\(error)"])
                for runnable in runnables { deferByLimit(runnable, wait: RateLimitGate.unavailableWait) }
                return []
            }
        }
        guard gate.limitsAnything else { return runnables }
        var admitted = [Bool](repeating: false, count: runnables.count)
        var fleet: [(index: Int, request: RateLimiter.Request)] = []
        for (index, runnable) in runnables.enumerated() {
            let message = runnable.message
            guard let limit = gate.limit(for: message.task) else {
                admitted[index] = true
                continue
            }
            let key = RateLimitGate.key(task: message.task, limit: limit, args: message.args, kwargs: message.kwargs)
            switch limit.scope {
            case .worker:
                let decision = gate.local.acquire(key: key, interval: limit.interval, burst: limit.burst, now: monotonicSeconds(),
                                                  longestWait: options.rateLimitMaxWait)
                if decision.allowed {
                    logPassed(runnable, at: Date().timeIntervalSince1970)
                    admitted[index] = true
                } else {
                    deferByLimit(runnable, wait: decision.wait)
                }
            case .fleet:
                fleet.append((index, RateLimiter.Request(key: key, intervalMicroseconds: limit.intervalMicroseconds,
                                                         burst: limit.burst, queue: true)))
            }
        }
        if !fleet.isEmpty {
            do {
                let (now, decisions) = try await gate.fleet.acquire(fleet.map(\.request), longestWait: options.rateLimitMaxWait,
                                                                    holdWindow: RateLimitGate.holdWindow)
                for ((index, _), decision) in zip(fleet, decisions) {
                    if decision.allowed {
                        logPassed(runnables[index], at: Double(now) / 1_000_000)
                        admitted[index] = true
                    } else if decision.held {
                        holdByLimit(runnables[index], wait: decision.wait)
                    } else {
                        deferByLimit(runnables[index], wait: decision.wait)
                    }
                }
            } catch {
                logger.warning("rate limiter unavailable; limited tasks deferred", metadata: ["error": "\(error)", "tasks": "\(fleet.count)"])
                for (index, _) in fleet { deferByLimit(runnables[index], wait: RateLimitGate.unavailableWait) }
            }
        }
        return zip(runnables, admitted).filter(\.1).map(\.0)
    }

    /// Frees the task's run slot at once and defers it on its own (it publishes a copy and
    /// waits for the broker's confirm; a run slot held meanwhile would starve the intake, and
    /// with it the limiter, whenever confirms are slow).
    private func deferByLimit(_ runnable: Runnable, wait: Double) {
        let deferral = TaskDeferral(after: RateLimitGate.jittered(wait), reason: Self.rateLimitReason)
        let deferring = rateLimits.deferring
        _ = deferring.tryAcquire()
        slots.release()
        Task {
            await self.deferRun(runnable.message, delivery: runnable.delivery, deferral: deferral, started: false, runtime: "0.000000")
            deferring.release()
        }
    }

    /// Frees the task's run slot and keeps its delivery in memory until its slot (less than
    /// `RateLimitGate.holdWindow` away, one per interval across the fleet), then admits it
    /// again. The delay cascade returns deferred tasks in clumps about once a second; a task
    /// sent through it for a sub-second turn would miss its slot, and the limit would go
    /// unused. Held deliveries are bounded by the prefetch; a worker that stops meanwhile hands
    /// them back to the queue.
    private func holdByLimit(_ runnable: Runnable, wait: Double) {
        let deferring = rateLimits.deferring
        _ = deferring.tryAcquire()
        slots.release()
        Task {
            try? await Task.sleep(for: .seconds(max(0, min(wait, RateLimitGate.holdWindow))))
            guard self.isReady else {
                self.stats.record(\.requeued)
                self.metrics.finished(runnable.message.task, queue: runnable.delivery.queue, .requeued)
                self.consumer.reject(runnable.delivery, requeue: true)
                deferring.release()
                return
            }
            await self.slots.acquire()
            deferring.release()
            await self.admitAndStart([runnable])
        }
    }

    /// `at`: seconds since 1970 on the limiter's clock (Redis' for fleet limits), so runs can
    /// be counted per second afterwards (`ops/bench --limits` does).
    private func logPassed(_ runnable: Runnable, at time: Double) {
        log(.debug, "rate limit passed", id: runnable.message.id, task: runnable.message.task, ["at": .string(String(format: "%.6f", time))])
    }

    /// Polls the run-time rate limits until cancelled, logging each change.
    func refreshRateLimits() async {
        var failures = 0
        while !Task.isCancelled {
            do {
                if let limits = try await rateLimits.refresh(logger: logger) {
                    logger.info("rate limits changed", metadata: [
                        "limits": .string(limits.sorted { $0.key < $1.key }.map { "\($0.key.cappedUTF8(64))=\($0.value)" }
                            .joined(separator: "; ").cappedUTF8(1024)),
                    ])
                }
                failures = 0
            } catch {
                failures += 1
                if failures == 1 || failures % 60 == 0 {
                    logger.warning("run-time rate limits not read; the last ones read still apply", metadata: ["error": "\(error)"])
                }
            }
            try? await Task.sleep(for: .seconds(RateLimitGate.pollInterval))
        }
    }
}
