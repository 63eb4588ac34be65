import DequeModule
import IOSupport
import Synchronization

/// A thread that runs the Swift tasks which prefer it, one job after another, and hands its
/// role to a fresh thread when a job holds it too long.
///
/// The worker's hot path (intake, admission, task bodies, result flushing) prefers this
/// executor, so a task's steps follow each other on one thread instead of hopping between the
/// cooperative pool's threads: a job that schedules another on this loop only appends it to
/// the queue, with no wake-up and no context switch. Jobs resumed from elsewhere (an I/O thread
/// answering a request) wake the loop.
///
/// **Blocking bodies.** Nothing can tell in advance whether a task body blocks (a synchronous
/// library, `sleep`, heavy CPU). So the loop does not guess: the watchdog thread looks at it
/// every `stallCheck` seconds while it is busy, and when the same job has been running since
/// the previous look, it makes a new thread the loop and leaves the old one to finish that job
/// alone; the old thread ends once the job returns (a body that blocks for good keeps its
/// thread, as it would keep a pool thread). Everything else on the loop waits at most two
/// looks, about `2 × stallCheck`. Time limits, heartbeats and remote control never depend on
/// the loop: they run on the watchdog's and the connections' own threads.
final class LoopExecutor: TaskExecutor, @unchecked Sendable {
    /// How often the watchdog looks at a busy loop, seconds.
    static let stallCheck = 0.01

    private struct State {
        var jobs = Deque<UnownedJob>()
        /// Which thread is the loop: a thread whose number is not this one ends.
        var driver: UInt64 = 0
        /// The loop is blocked waiting for a job: the next enqueue must wake it.
        var sleeping = false
        /// The loop is running a job now.
        var inJob = false
        /// Jobs started, to tell one long job from many short ones between two looks.
        var started: UInt64 = 0
        /// `started` at the watchdog's previous look.
        var startedAtLastLook: UInt64 = 0
        /// A look is scheduled.
        var watched = false
        /// Threads that took over from a stuck loop, for `handoffs`.
        var handoffs = 0
        /// A thread is the loop now. It starts with the first job and, once `stop` was called,
        /// ends when the queue is empty (a later job starts another).
        var alive = false
        var stopped = false
    }

    private let name: String
    private let state = Mutex(State())
    private let wakeup: Wakeup
    private let watchdog: Watchdog

    /// A loop whose thread, called `name`, starts with its first job.
    init(name: String, watchdog: Watchdog = .shared) throws {
        self.name = name
        self.watchdog = watchdog
        wakeup = try Wakeup()
    }

    func enqueue(_ job: consuming ExecutorJob) {
        let unowned = UnownedJob(job)
        let (start, wake, watch) = state.withLock { s -> (UInt64?, Bool, Bool) in
            s.jobs.append(unowned)
            let start: UInt64? = s.alive ? nil : s.driver
            s.alive = true
            let wake = s.sleeping
            s.sleeping = false
            defer { s.watched = true }
            return (start, wake, !s.watched)
        }
        if let start { startDriver(start) }
        if wake { wakeup.signal() }
        if watch { scheduleLook() }
    }

    /// Lets the loop's thread end once no job is queued (the worker stopped). Jobs that come
    /// later still run, on a thread started for them that ends again when they are done.
    func stop() {
        let wake = state.withLock { s -> Bool in
            s.stopped = true
            defer { s.sleeping = false }
            return s.sleeping
        }
        if wake { wakeup.signal() }
    }

    /// How many times a stuck job made another thread the loop.
    var handoffs: Int { state.withLock { $0.handoffs } }

    /// Whether a thread is the loop now (none before the first job, nor once a stopped loop is idle).
    var isRunning: Bool { state.withLock { $0.alive } }

    private func startDriver(_ number: UInt64) {
        IOThread.start(name: name) { [self] in drive(as: number) }
    }

    private enum Next {
        case run(UnownedJob)
        case sleep
        case end
    }

    /// The loop's thread: runs jobs while it is the loop, sleeps when there are none.
    private func drive(as number: UInt64) {
        let executor = asUnownedTaskExecutor()
        while true {
            let next = state.withLock { s -> Next in
                guard s.driver == number else { return .end }
                if let job = s.jobs.popFirst() {
                    s.inJob = true
                    s.started &+= 1
                    return .run(job)
                }
                s.inJob = false
                if s.stopped {
                    s.alive = false
                    return .end
                }
                s.sleeping = true
                return .sleep
            }
            switch next {
            case let .run(job):
                job.runSynchronously(on: executor)
            case .sleep:
                wakeup.wait(timeoutMilliseconds: -1)
            case .end:
                return
            }
        }
    }

    private func scheduleLook() {
        _ = watchdog.schedule(after: Self.stallCheck) { [weak self] in self?.look() }
    }

    /// On the watchdog thread: hands the loop to a new thread when one job has held it since
    /// the last look, and keeps looking while the loop is busy.
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
