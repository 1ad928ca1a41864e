import Foundation
import OLCore
import OLTraining

/// One run to execute, with its predicted cost for progress and ETA lines.
public struct RunTask: Sendable {
    public var spec: RunSpec
    public var estimatedSeconds: Double
    public init(spec: RunSpec, estimatedSeconds: Double) {
        self.spec = spec
        self.estimatedSeconds = estimatedSeconds
    }
}

/// Where the runs of an audit or sweep execute. Every backend executes a run the same way
/// (`RunExecution.execute` on its spec file, into the shared cache), so they give the same bits.
public enum RunBackend: Sendable {
    /// One run after another in this process (tests, and library users without the `olab` binary).
    case inProcess
    /// `jobs` worker processes (`olab run-task`) at once on this machine, each with `threadsPerJob`
    /// OutlierLab worker threads.
    case local(jobs: Int, threadsPerJob: Int)
    /// A Slurm job array, one array task per run.
    case slurm(SlurmOptions)

    /// One job per core, each single-threaded: independent small runs use two cores better side by side
    /// than one run on two threads.
    public static func local(jobs: Int? = nil) -> RunBackend {
        let cores = max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))))
        let jobs = max(1, jobs ?? cores)
        return .local(jobs: jobs, threadsPerJob: max(1, cores / jobs))
    }
}

/// What executing a set of runs left behind.
public struct ExecutionSummary: Sendable {
    /// Keys of the runs that were already done before this call (served from the cache).
    public var doneBefore: Set<String>
    /// Tasks whose run is still not done, with the reason (a killed or failed task, a job still queued).
    public var missing: [(task: RunTask, reason: String)]
    /// Set when the runs were only submitted (`--submit-only`): the Slurm job id.
    public var submittedJob: String?

    /// Throws when runs are missing, after one line per missing run naming it and the reason.
    public func requireComplete(total: Int, name: String, say: (String) -> Void) throws {
        guard !missing.isEmpty else { return }
        for (task, reason) in missing {
            say("[\(name)] no result for \(task.spec.key.prefix(12)) (\(task.spec.label)): \(reason)")
        }
        throw OutlierLabError("\(missing.count) of \(total) runs have no result yet (listed above)")
    }
}

/// Executes the runs of an audit or a sweep that are not in the cache yet, on one backend, then leaves
/// the results in the run directories for the caller to read (`RunExecution.outcome`). Spec files are
/// written first, so every backend works from files alone.
public struct RunScheduler {
    /// The cache: `<out>/runs`.
    public var runs: String
    /// The `olab` executable for worker processes and Slurm tasks (an absolute path).
    public var executable: String
    /// "audit" or "sweep": the prefix of progress lines.
    public var name: String
    public var evaluator: any QuantisedEvaluator

    /// Prints one progress line and flushes it, so logs redirected to a file show progress as it happens.
    public static func printLine(_ line: String) {
        print(line)
        fflush(nil)  // nil flushes every C stream; naming `stdout` is not concurrency-safe in Swift 6
    }

    public var say: (String) -> Void

    public init(runs: String, executable: String, name: String, evaluator: any QuantisedEvaluator = SchemeEvaluator(),
                say: @escaping (String) -> Void) {
        // Absolute, so worker processes and Slurm tasks find the cache from any working directory.
        self.runs = runs.hasPrefix("/") ? runs : FileManager.default.currentDirectoryPath + "/" + runs
        self.executable = executable
        self.name = name
        self.evaluator = evaluator
        self.say = say
    }

    /// Writes every spec, then executes the tasks that are not done on `backend`. With `collectOnly`
    /// nothing is executed or submitted: the summary says what is missing.
    public func execute(_ tasks: [RunTask], on backend: RunBackend, collectOnly: Bool = false) throws -> ExecutionSummary {
        var seen = Set<String>()
        let unique = tasks.filter { seen.insert($0.spec.key).inserted }  // first occurrence of each run
        for task in unique { try task.spec.write(in: runs) }
        let doneBefore = Set(unique.filter { RunExecution.isDone($0.spec, runs: runs) }.map(\.spec.key))
        let pending = unique.filter { !doneBefore.contains($0.spec.key) }
        var summary = ExecutionSummary(doneBefore: doneBefore, missing: [], submittedJob: nil)
        if pending.isEmpty || collectOnly {
            summary.missing = try collectOnly && !pending.isEmpty ? missingReasons(pending, backend: backend) : []
            if !collectOnly { say("[\(name)] all \(unique.count) runs are in the cache") }
            return summary
        }
        say("[\(name)] \(pending.count) of \(unique.count) runs to execute (\(doneBefore.count) from the cache), estimated \(NumberText.duration(pending.reduce(0) { $0 + $1.estimatedSeconds })) of one core")
        switch backend {
        case .inProcess:
            try executeInProcess(pending)
        case .local(let jobs, let threads):
            try LocalWorkers(scheduler: self, jobs: jobs, threadsPerJob: threads).execute(pending)
        case .slurm(let options):
            let slurm = SlurmArray(scheduler: self, options: options)
            let jobs = try slurm.submit(pending)
            if options.submitOnly {
                summary.submittedJob = jobs.joined(separator: ", ")
                return summary
            }
            try slurm.wait(for: jobs, tasks: pending)
        }
        summary.missing = try missingReasons(pending.filter { !RunExecution.isDone($0.spec, runs: runs) }, backend: backend)
        return summary
    }

    private func missingReasons(_ tasks: [RunTask], backend: RunBackend) throws -> [(task: RunTask, reason: String)] {
        guard !tasks.isEmpty else { return [] }
        if case .slurm(let options) = backend { return try SlurmArray(scheduler: self, options: options).reasons(tasks) }
        return tasks.map { ($0, "not run yet, or its worker was killed (log: \(logPath($0.spec.key)))") }
    }

    private func executeInProcess(_ tasks: [RunTask]) throws {
        var progress = ProgressEstimate(total: tasks.count, remainingSeconds: tasks.reduce(0) { $0 + $1.estimatedSeconds }, jobs: 1)
        for (index, task) in tasks.enumerated() {
            let header = "[\(name)] run \(index + 1)/\(tasks.count) \(task.spec.key.prefix(12)) (\(task.spec.label))"
            let started = monotonicSeconds()
            _ = try RunExecution.execute(task.spec, runs: runs, evaluator: evaluator, announce: { say("\(header): \($0)") },
                                         progress: { step in
                let runFraction = Double(step.step) / Double(max(step.steps, 1))
                let runLeft = step.elapsedSeconds / max(runFraction, 1e-9) * (1 - runFraction)
                say("\(header): step \(step.step)/\(step.steps) loss \(formatNumber(step.loss)), \(Int(step.tokensPerSecond)) tok/s, ETA run \(NumberText.duration(runLeft)), \(name) \(NumberText.duration(runLeft + progress.secondsLeft(excluding: task.estimatedSeconds)))")
            })
            progress.finished(estimated: task.estimatedSeconds, actual: monotonicSeconds() - started)
        }
    }

    /// Where a worker process or Slurm task of `key` writes its output.
    func logPath(_ key: String) -> String { runs + "/" + key + ".log" }
}

/// Remaining time from the cost model's estimates, calibrated by the runs finished so far.
struct ProgressEstimate {
    var total: Int
    var remainingSeconds: Double
    var jobs: Int
    var done = 0
    private var spentActual = 0.0, spentEstimate = 0.0

    init(total: Int, remainingSeconds: Double, jobs: Int) {
        self.total = total
        self.remainingSeconds = remainingSeconds
        self.jobs = jobs
    }

    var calibration: Double { spentEstimate > 0 ? spentActual / spentEstimate : 1 }

    mutating func finished(estimated: Double, actual: Double) {
        done += 1
        remainingSeconds -= estimated
        spentActual += actual
        spentEstimate += estimated
    }

    /// Wall seconds left for the runs not finished, `jobs` at a time, leaving out one running run's estimate.
    func secondsLeft(excluding running: Double = 0) -> Double {
        max(0, remainingSeconds - running) * calibration / Double(max(jobs, 1))
    }
}

