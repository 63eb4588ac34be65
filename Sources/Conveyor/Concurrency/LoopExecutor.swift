import DequeModule
import IOSupport
import Synchronization

/// A thread that runs the Swift tasks which prefer it, one job after another, steps the I/O
/// loops it hosts between them, and hands its role to a fresh thread when one job or step holds
/// it too long.
///
/// The worker's hot path prefers this executor (intake, admission, task bodies, result
/// flushing), and it hosts the consumer's AMQP connection and the worker's Redis connection:
/// their sockets are polled together with the loop's wake-up pipe. So a delivery read from the
/// socket resumes the intake, which runs next on the same thread; the admission script and the
/// results are written on the Redis connection's next step and their replies resume the tasks
/// there; an acknowledgement goes out on the consumer's next step. None of it wakes another
/// thread. Jobs resumed from elsewhere and commands from other threads (a heartbeat, remote
/// control) wake the loop through the pipe, and only when it sleeps.
///
/// **Fairness.** After `jobsPerStep` jobs in a row the hosted loops take a step, so a flood of
/// work neither delays deliveries nor heartbeats.
///
/// **Blocking.** Nothing can tell in advance whether a task body blocks (a synchronous library,
/// `sleep`, heavy CPU), nor how long a connect or an RPC of a hosted connection takes. So the
/// loop does not guess: the watchdog thread looks at it every `stallCheck` seconds while it is
/// busy, and when the same job or step has been running since the previous look, it makes a
/// new thread the loop and leaves the old one to finish alone; the old thread ends once it
/// returns (a body that blocks for good keeps its thread, as it would keep a pool thread). A
/// hosted loop being stepped by the old thread is left to it and taken back by the loop when
/// that step returns. Everything else waits at most two looks, about `2 × stallCheck`. Time
/// limits never depend on the loop: they fire from the watchdog's thread.
final class LoopExecutor: TaskExecutor, IOHost, @unchecked Sendable {
    /// How often the watchdog looks at a busy loop, seconds.
    static let stallCheck = 0.01
    /// Jobs run in a row before the hosted loops take a step.
    static let jobsPerStep = 64

    private final class Hosted: @unchecked Sendable {
        let io: any SteppedIO
        /// A thread is stepping it now (read and written with `state` locked).
        var busy = false

        init(_ io: any SteppedIO) { self.io = io }
    }

    private struct State {
        var jobs = Deque<UnownedJob>()
        var hosted: [Hosted] = []
        /// Which thread is the loop: a thread whose number is not this one ends.
        var driver: UInt64 = 0
        /// The loop is blocked waiting: the next job must wake it.
        var sleeping = false
        /// The loop is running a job or a hosted step now.
        var inJob = false
        /// Jobs and steps started, to tell one long one from many short ones between two looks.
        var started: UInt64 = 0
        /// `started` at the watchdog's previous look.
        var startedAtLastLook: UInt64 = 0
        /// A look is scheduled.
        var watched = false
        /// Threads that took over from a stuck loop, for `handoffs`.
        var handoffs = 0
        /// A thread is the loop now. It starts with the first job or hosted loop and, once
        /// `stop` was called, ends when nothing is queued or hosted (a later job starts another).
        var alive = false
        var stopped = false

        /// A job or step starts. - Returns: whether a look must be scheduled for it.
        mutating func begin() -> Bool {
            inJob = true
            started &+= 1
            defer { watched = true }
            return !watched
        }
    }

    private let name: String
    private let state = Mutex(State())
    let wakeup: Wakeup
    private let watchdog: Watchdog

    /// A loop whose thread, called `name`, starts with its first job.
    init(name: String, watchdog: Watchdog = .shared) throws {
        self.name = name
        self.watchdog = watchdog
        wakeup = try Wakeup()
    }

    func enqueue(_ job: consuming ExecutorJob) {
        let unowned = UnownedJob(job)
        wake { $0.jobs.append(unowned) }
    }

    func host(_ io: any SteppedIO) {
        let hosted = Hosted(io)
        wake { $0.hosted.append(hosted) }
    }

    /// Applies `change`, then makes sure a thread will see it: starts one, or wakes the sleeping one.
    private func wake(after change: (inout State) -> Void) {
        let (start, wake) = state.withLock { s -> (UInt64?, Bool) in
            change(&s)
            let start: UInt64? = s.alive ? nil : s.driver
            s.alive = true
            let wake = s.sleeping
            s.sleeping = false
            return (start, wake)
        }
        if let start { startDriver(start) }
        if wake { wakeup.signal() }
    }

    /// Lets the loop's thread end once nothing is queued or hosted (the worker stopped). Jobs
    /// that come later still run, on a thread started for them that ends again when they are done.
    func stop() {
        let wake = state.withLock { s -> Bool in
            s.stopped = true
            defer { s.sleeping = false }
            return s.sleeping
        }
        if wake { wakeup.signal() }
    }

    /// How many times a stuck job or step made another thread the loop.
    var handoffs: Int { state.withLock { $0.handoffs } }

    /// Whether a thread is the loop now (none before the first job, nor once a stopped loop is idle).
    var isRunning: Bool { state.withLock { $0.alive } }

    private func startDriver(_ number: UInt64) {
        IOThread.start(name: name) { [self] in drive(as: number) }
    }

    private enum Next {
        /// `watch`: no look is scheduled; the job or step must have one.
        case run(UnownedJob, watch: Bool)
        case step(Hosted, watch: Bool)
        /// Every hosted loop took its step; jobs are waiting.
        case nextRound
        case sleep
        case end
    }

    /// The loop's thread: runs jobs and steps the hosted loops while it is the loop, sleeps when
    /// there is nothing to do.
    private func drive(as number: UInt64) {
        let executor = asUnownedTaskExecutor()
        var jobsInARow = 0
        // The hosted loops stepped since the last round ended, with what each waits for.
        var stepped: [(hosted: Hosted, pause: IOPause)] = []
        while true {
            let next = state.withLock { s -> Next in
                guard s.driver == number else { return .end }
                if jobsInARow < Self.jobsPerStep, let job = s.jobs.popFirst() {
                    return .run(job, watch: s.begin())
                }
                s.inJob = false
                if let hosted = s.hosted.first(where: { h in !h.busy && !stepped.contains { $0.hosted === h } }) {
                    hosted.busy = true
                    return .step(hosted, watch: s.begin())
                }
                if !s.jobs.isEmpty { return .nextRound }
                if s.stopped && s.hosted.isEmpty {
                    s.alive = false
                    return .end
                }
                s.sleeping = true
                return .sleep
            }
            switch next {
            case let .run(job, watch):
                if watch { scheduleLook() }
                job.runSynchronously(on: executor)
                jobsInARow += 1
            case let .step(hosted, watch):
                if watch { scheduleLook() }
                let pause = hosted.io.step()
                guard finishStep(hosted, closed: pause == nil, as: number) else { return }
                if let pause { stepped.append((hosted, pause)) }
            case .nextRound:
                jobsInARow = 0
                stepped.removeAll(keepingCapacity: true)
            case .sleep:
                sleep(until: stepped)
                jobsInARow = 0
                stepped.removeAll(keepingCapacity: true)
            case .end:
                return
            }
        }
    }

    /// After a step: frees `hosted` for the next one, or forgets it once closed.
    /// - Returns: whether this thread is still the loop. If not, it ends, and the loop (woken if
    ///   it sleeps) takes `hosted` back.
    private func finishStep(_ hosted: Hosted, closed: Bool, as number: UInt64) -> Bool {
        let (stillDriver, wake) = state.withLock { s -> (Bool, Bool) in
            hosted.busy = false
            if closed { s.hosted.removeAll { $0 === hosted } }
            guard s.driver == number else {
                defer { s.sleeping = false }
                return (false, s.sleeping)
            }
            s.inJob = false
            return (true, false)
        }
        if wake { wakeup.signal() }
        return stillDriver
    }

    /// Blocks until a job or command arrives, a hosted socket is readable, or the earliest
    /// hosted loop's pause is over; returns at once when a hosted loop has more to do now.
    private func sleep(until stepped: [(hosted: Hosted, pause: IOPause)]) {
        var prepared: [Hosted] = []
        var ready = true
        for (hosted, pause) in stepped {
            guard pause.milliseconds != 0, hosted.io.prepareToSleep() else {
                ready = false
                break
            }
            prepared.append(hosted)
        }
        if ready {
            // With nothing hosted here (or all of it stepped by a thread that lost the loop), only
            // a job, a command or that thread's release wakes the loop.
            // A negative pause is no time limit.
            let timeout = stepped.map(\.pause.milliseconds).filter { $0 >= 0 }.min() ?? -1
            wakeup.wait(timeoutMilliseconds: timeout, orReadable: stepped.compactMap(\.pause.descriptor))
        }
        state.withLock { $0.sleeping = false }
        for hosted in prepared { hosted.io.woke() }
    }

    private func scheduleLook() {
        _ = watchdog.schedule(after: Self.stallCheck) { [weak self] in self?.look() }
    }

    /// On the watchdog thread: hands the loop to a new thread when one job or step has held it
    /// since the last look, and keeps looking while the loop is busy. (An idle loop is not
    /// looked at; its next job or step schedules a look again.)
    private func look() {
        let (handOff, again) = state.withLock { s -> (UInt64?, Bool) in
            var handOff: UInt64?
            if s.inJob, s.started == s.startedAtLastLook {
                s.driver &+= 1
                s.inJob = false
                s.handoffs += 1
                handOff = s.driver
            }
            s.startedAtLastLook = s.started
            let busy = s.inJob || !s.jobs.isEmpty
            s.watched = busy
            return (handOff, busy)
        }
        if let handOff { startDriver(handOff) }
        if again { scheduleLook() }
    }
}
