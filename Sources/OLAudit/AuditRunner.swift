import Foundation
import OLCore
import OLTraining

/// Executes an audit plan's runs on a backend and reads their outcomes back. Each run's result depends
/// only on its config, so order and backend do not matter; finished runs are cached in `<out>/runs/<key>/`
/// and an interrupted run resumes from its last checkpoint, so rerunning an audit redoes nothing that
/// finished.
public final class AuditRunner {
    public let plan: AuditPlan
    public let outDirectory: String
    public let backend: RunBackend
    public let scheduler: RunScheduler

    /// Prints one progress line and flushes it, so logs redirected to a file show progress as it happens.
    public static func printLine(_ line: String) {
        print(line)
        fflush(nil)  // nil flushes every C stream; naming `stdout` is not concurrency-safe in Swift 6
    }

    /// Marks a run whose training or evaluation failed (see `RunExecution.failureName`).
    public static let failureName = RunExecution.failureName

    /// - Parameter executable: the `olab` binary for the local and Slurm backends (unused in process).
    public init(plan: AuditPlan, outDirectory: String, backend: RunBackend = .inProcess, executable: String = "",
                evaluator: any QuantisedEvaluator = SchemeEvaluator(), say: @escaping (String) -> Void = AuditRunner.printLine) {
        self.plan = plan
        self.outDirectory = outDirectory
        self.backend = backend
        scheduler = RunScheduler(runs: outDirectory + "/runs", executable: executable, name: "audit", evaluator: evaluator, say: say)
    }

    /// The tasks of the plan, in plan order.
    public var tasks: [RunTask] { plan.runs.map { RunTask(spec: $0.spec, estimatedSeconds: $0.estimatedSeconds) } }

    /// Executes (or, with `collectOnly`, only reads) every planned run; returns outcomes by run key, or
    /// nil when the runs were only submitted. Throws, naming each run, when some runs have no result.
    public func run(collectOnly: Bool = false) throws -> [String: RunOutcome]? {
        let started = monotonic()
        let summary = try scheduler.execute(tasks, on: backend, collectOnly: collectOnly)
        if let job = summary.submittedJob {
            scheduler.say("[audit] submitted as Slurm job \(job); assemble the report with `olab audit --collect --out \(outDirectory)` (same scale and claims) once it is done")
            return nil
        }
        try summary.requireComplete(total: plan.runs.count, name: "audit", say: scheduler.say)
        var outcomes: [String: RunOutcome] = [:]
        for run in plan.runs {
            outcomes[run.key] = try RunExecution.outcome(of: run.spec, runs: scheduler.runs, cached: summary.doneBefore.contains(run.key))
        }
        if !collectOnly { scheduler.say("[audit] \(plan.runs.count) runs done in \(duration(monotonic() - started))") }
        return outcomes
    }
}

extension PlannedRun {
    /// The spec file content of this run: its config, its quantised evaluations and who uses it.
    public var spec: RunSpec {
        let more = uses.count > 1 ? " and \(uses.count - 1) more" : ""
        return RunSpec(key: key, config: config, quantisations: Array(quantisations), label: uses[0] + more)
    }
}
