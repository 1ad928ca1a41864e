import OLPlatform

/// Deterministic data-parallel loops.
///
/// Work is cut into chunks whose boundaries depend only on the problem size and the chunk size, never on
/// the number of threads; each chunk writes only its own outputs, and any cross-chunk reduction is done by
/// the caller afterwards in index order. So a kernel gives the same bits with 1 or many workers.
public enum Parallel {
    /// Number of worker threads a loop started on the calling thread may use: the thread's own
    /// `withWorkers` setting if it has one, else the process default (`OLAB_THREADS` or the core count;
    /// assigning sets that default, as the CLI does before any work starts). Results never depend on it.
    public static var workerCount: Int {
        get {
            let override = Int(bitPattern: pthread_getspecific(workerOverrideKey))
            return override > 0 ? override : processWorkerCount
        }
        set { processWorkerCount = max(1, newValue) }
    }

    nonisolated(unsafe) private static var processWorkerCount: Int = {
        if let text = getenvString("OLAB_THREADS"), let value = Int(text), value > 0 { return value }
        return max(1, ProcessInfoCores.active)
    }()

    /// Calls `body` once per chunk `[start, min(start + chunkSize, count))`, on up to `workerCount` threads.
    /// Chunk `k` always covers the same indices, whatever the thread count. Inside a `forEachTask` task the
    /// chunks run in order on the task's thread: the other workers are busy with their own tasks.
    public static func forEachChunk(count: Int, chunkSize: Int, _ body: @Sendable (Range<Int>) -> Void) {
        precondition(chunkSize > 0, "chunk size must be positive")
        guard count > 0 else { return }
        let chunks = (count + chunkSize - 1) / chunkSize
        let workers = isInsideTask ? 1 : min(workerCount, chunks)
        if workers <= 1 {
            for k in 0..<chunks { body(k * chunkSize ..< min(count, (k + 1) * chunkSize)) }
            return
        }
        let ran = WorkerPool.shared.run(workers: workers) { worker in
            var k = worker
            while k < chunks {
                body(k * chunkSize ..< min(count, (k + 1) * chunkSize))
                k += workers
            }
        }
        if !ran {  // another loop holds the pool: same chunks, in order, here
            for k in 0..<chunks { body(k * chunkSize ..< min(count, (k + 1) * chunkSize)) }
        }
    }

    /// Runs tasks `0..<count` once each on up to `workers` threads, handing them out in index order to
    /// whichever thread is free (so put the longest tasks first). `body(task, worker)` gets the index of
    /// the thread running it (`0..<workers`) for per-thread scratch space. Which thread runs a task varies
    /// from run to run: tasks must write disjoint outputs and their results must not depend on the thread,
    /// which is what keeps callers deterministic. With one worker the tasks run in order on the caller.
    public static func forEachTask(count: Int, workers requested: Int, _ body: @Sendable (_ task: Int, _ worker: Int) -> Void) {
        guard count > 0 else { return }
        let workers = max(1, min(requested, count))
        if workers == 1 {
            markedAsTask { for task in 0..<count { body(task, 0) } }
            return
        }
        let pool = WorkerPool.shared
        let ran = pool.run(workers: workers) { worker in
            markedAsTask { while let task = pool.nextTask(below: count) { body(task, worker) } }
        }
        if !ran {  // another loop holds the pool: every task in order, here, as worker 0
            markedAsTask { for task in 0..<count { body(task, 0) } }
        }
    }

    /// Whether the calling thread is running a `forEachTask` task.
    public static var isInsideTask: Bool { pthread_getspecific(insideTaskKey) != nil }

    /// Runs `body` with `workerCount` set to `count` for loops started on the calling thread only, so
    /// tests running side by side in one process cannot change each other's setting.
    public static func withWorkers<R>(_ count: Int, _ body: () throws -> R) rethrows -> R {
        precondition(count > 0, "worker count must be positive")
        let saved = pthread_getspecific(workerOverrideKey)
        pthread_setspecific(workerOverrideKey, UnsafeRawPointer(bitPattern: count))
        defer { pthread_setspecific(workerOverrideKey, saved) }
        return try body()
    }
}

/// A raw pointer that may cross into a `@Sendable` closure. Kernels use it to hand worker threads
/// disjoint rows of one buffer, which Swift's checker cannot see is race-free.
public struct SendablePointer<Element>: @unchecked Sendable {
    public let base: UnsafeMutablePointer<Element>
    public init(_ base: UnsafeMutablePointer<Element>) { self.base = base }
    public init(_ buffer: UnsafeMutableBufferPointer<Element>) { self.base = buffer.baseAddress! }
    @inline(__always) public subscript(i: Int) -> Element {
        get { base[i] }
        nonmutating set { base[i] = newValue }
    }
}

/// The value of an environment variable, if set.
public func getenvString(_ name: String) -> String? {
    guard let raw = getenv(name) else { return nil }
    return String(cString: raw)
}

enum ProcessInfoCores {
    static var active: Int { Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))) }
}

/// Runs `body` with the calling thread marked as running `forEachTask` tasks.
private func markedAsTask(_ body: () -> Void) {
    let outer = pthread_getspecific(insideTaskKey)
    pthread_setspecific(insideTaskKey, UnsafeRawPointer(bitPattern: 1))
    defer { pthread_setspecific(insideTaskKey, outer) }
    body()
}

/// Thread-specific worker count of `Parallel.withWorkers` (stored as the pointer's bit pattern; 0 = none).
private let workerOverrideKey: pthread_key_t = {
    var key = pthread_key_t()
    pthread_key_create(&key, nil)
    return key
}()

/// Thread-specific marker set while a thread runs `forEachTask` tasks.
private let insideTaskKey: pthread_key_t = {
    var key = pthread_key_t()
    pthread_key_create(&key, nil)
    return key
}()
