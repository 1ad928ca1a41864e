import OLPlatform

/// Parked helper threads that run one parallel loop at a time for `Parallel`.
///
/// A loop of `workers` iterations: the caller and the helpers claim iteration indices 0..<workers one at a
/// time until none is left, so a helper that wakes late finds its share already done by the caller
/// instead of making it wait (this is what `DispatchQueue.concurrentPerform` does too). The iteration
/// index is what `Parallel` hands to its bodies as the worker index: unique among bodies running at once.
/// `run` returns when every iteration finished. One loop runs at a time: a second caller (another thread,
/// or a loop nested inside a running one) gets `false` and runs its loop itself, which `Parallel`'s loops
/// allow because their results never depend on the thread count.
///
/// Helpers park on a condition variable between loops. Polling before parking was tried and measured no
/// faster on the bench (within its ±10 % noise) while it takes CPU time from OpenBLAS's own threads.
///
/// Allocation: `concurrentPerform` allocated about four times per call; `run` allocates once (see `run`),
/// and starting a helper thread allocates its context.
final class WorkerPool: @unchecked Sendable {
    static let shared = WorkerPool()

    /// Held by the caller of the running loop; `run` only try-locks it.
    private var submission = pthread_mutex_t()
    /// Guards everything below.
    private var mutex = pthread_mutex_t()
    private var wake = pthread_cond_t()
    private var done = pthread_cond_t()
    private var helpers = 0
    private var generation = 0
    private var iterations = 0
    private var nextIteration = 0
    /// Iterations of the current loop not finished yet.
    private var unfinished = 0
    /// The running loop's body. Not an Optional: a closure stored in an Optional is kept at the most
    /// general abstraction, and converting to it allocates a thunk on every `run`.
    private var job: (Int) -> Void = { _ in }
    /// Next unclaimed task of a `Parallel.forEachTask` loop (valid while it runs).
    private var taskCursor = 0

    private init() {
        pthread_mutex_init(&submission, nil)
        pthread_mutex_init(&mutex, nil)
        pthread_cond_init(&wake, nil)
        pthread_cond_init(&done, nil)
    }

    /// Runs `body(i)` once for every i in 0..<workers, on the caller and up to workers − 1 helper threads,
    /// and waits for all. Returns false without running anything when another loop is running.
    ///
    /// Allocation: one small block per call, made by `withoutActuallyEscaping` to hand the caller's
    /// non-escaping body to the helpers (`loopsRun` counts calls, so tests can hold us to exactly that).
    func run(workers: Int, _ body: (Int) -> Void) -> Bool {
        guard pthread_mutex_trylock(&submission) == 0 else { return false }
        defer { pthread_mutex_unlock(&submission) }
        withoutActuallyEscaping(body) { escapable in
            pthread_mutex_lock(&mutex)
            while helpers < workers - 1 { startHelper() }
            job = escapable
            iterations = workers
            nextIteration = 0
            unfinished = workers
            taskCursor = 0
            generation &+= 1
            let current = generation
            pthread_cond_broadcast(&wake)
            pthread_mutex_unlock(&mutex)

            participate(in: current)

            pthread_mutex_lock(&mutex)
            while unfinished > 0 { pthread_cond_wait(&done, &mutex) }
            job = { _ in }
            pthread_mutex_unlock(&mutex)
        }
        return true
    }

    /// Number of loops handed to the pool so far.
    var loopsRun: Int {
        pthread_mutex_lock(&mutex)
        defer { pthread_mutex_unlock(&mutex) }
        return generation
    }

    /// The next task index below `count` of the running `forEachTask` loop, or nil when all are taken.
    func nextTask(below count: Int) -> Int? {
        pthread_mutex_lock(&mutex)
        defer { pthread_mutex_unlock(&mutex) }
        guard taskCursor < count else { return nil }
        defer { taskCursor += 1 }
        return taskCursor
    }

    /// Claims and runs iterations of loop `current` until none is left (or that loop is over).
    private func participate(in current: Int) {
        while true {
            pthread_mutex_lock(&mutex)
            guard generation == current, nextIteration < iterations else {
                pthread_mutex_unlock(&mutex)
                return
            }
            let iteration = nextIteration
            nextIteration += 1
            pthread_mutex_unlock(&mutex)
            invokeJob(iteration)
            pthread_mutex_lock(&mutex)
            unfinished -= 1
            if unfinished == 0 { pthread_cond_signal(&done) }
            pthread_mutex_unlock(&mutex)
        }
    }

    /// Calls the current job. A claimed, unfinished iteration keeps `run` from replacing `job`, and this
    /// copy of the closure is released before the iteration is reported finished (`withoutActuallyEscaping`
    /// checks that no copy outlives `run`).
    @inline(never) private func invokeJob(_ iteration: Int) { job(iteration) }

    /// Starts one more helper (called with `mutex` held).
    private func startHelper() {
        let context = Unmanaged.passRetained(HelperContext(pool: self, firstGeneration: generation))
        var thread = pthread_t()
        let status = pthread_create(&thread, nil, { raw in
            let context = Unmanaged<HelperContext>.fromOpaque(raw!).takeRetainedValue()
            context.pool.helperLoop(seen: context.firstGeneration)
            return nil
        }, context.toOpaque())
        precondition(status == 0, "cannot start a worker thread: error \(status)")
        pthread_detach(thread)
        helpers += 1
    }

    private func helperLoop(seen firstSeen: Int) {
        var seen = firstSeen
        while true {
            pthread_mutex_lock(&mutex)
            while generation == seen { pthread_cond_wait(&wake, &mutex) }
            seen = generation
            pthread_mutex_unlock(&mutex)
            participate(in: seen)
        }
    }
}

private final class HelperContext {
    let pool: WorkerPool
    let firstGeneration: Int
    init(pool: WorkerPool, firstGeneration: Int) {
        self.pool = pool
        self.firstGeneration = firstGeneration
    }
}
