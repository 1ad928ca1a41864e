import Foundation
import OLCore
import OLRuns
import OLTraining

/// Executes an audit plan's runs on a backend and reads their outcomes back. Each run's result depends
/// only on its config, so order and backend do not matter; finished runs are cached in `<out>/runs/<key>/`
/// and an interrupted run resumes from its last checkpoint, so rerunning an audit redoes nothing that
/// finished.
public final class AuditRunner {
    /// The plan; `run` replaces it with the resolved plan once best-lr calibration runs have chosen rates.
    public private(set) var plan: AuditPlan
    public let outDirectory: String
    public let backend: RunBackend
    public let scheduler: RunScheduler

    /// Marks a run whose training or evaluation failed (see `RunExecution.failureName`).
    public static let failureName = RunExecution.failureName

    /// - Parameter executable: the `olab` binary for the local and Slurm backends (unused in process).
    public init(plan: AuditPlan, outDirectory: String, backend: RunBackend = .inProcess, executable: String = "",
                evaluator: any QuantisedEvaluator = SchemeEvaluator(), say: @escaping (String) -> Void = RunScheduler.printLine) {
        self.plan = plan
        self.outDirectory = outDirectory
        self.backend = backend
        scheduler = RunScheduler(runs: outDirectory + "/runs", executable: executable, name: "audit", evaluator: evaluator, say: say)
    }

    /// The tasks of the plan, in plan order.
    public var tasks: [RunTask] { plan.runs.map { RunTask(spec: $0.spec, estimatedSeconds: $0.estimatedSeconds) } }

    /// Executes (or, with `collectOnly`, only reads) every planned run; returns outcomes by run key, or
    /// nil when the runs were only submitted. Throws, naming each run, when some runs have no result.
    /// A plan with best-lr arms runs in two phases: the calibration runs first, then, with each family's
    /// rate chosen from them, every other run.
    public func run(collectOnly: Bool = false) throws -> [String: RunOutcome]? {
        let started = monotonicSeconds()
        var computedInPhaseOne = Set<String>()
        if !plan.isResolved {
            // Phase 1: the calibration runs first, then every run that does not wait for a chosen rate, so
            // the workers stay busy; phase 2 finds those cached.
            let calibration = plan.pendingCalibration
            let keys = Set(calibration.map(\.key))
            let first = calibration + plan.runs.filter { !keys.contains($0.key) }
            scheduler.say("[audit] learning-rate calibration: \(calibration.count) runs on the calibration seed; \(plan.pendingRuns) confirming runs wait for their rates")
            let summary = try scheduler.execute(first.map { RunTask(spec: $0.spec, estimatedSeconds: $0.estimatedSeconds) },
                                                on: backend, collectOnly: collectOnly)
            if let job = summary.submittedJob {
                scheduler.say("[audit] calibration submitted as Slurm job \(job); rerun the same command once it is done to submit the confirming runs")
                return nil
            }
            try summary.requireComplete(total: first.count, name: "audit calibration", say: scheduler.say)
            computedInPhaseOne = Set(first.map(\.key)).subtracting(summary.doneBefore)
            var outcomes: [String: RunOutcome] = [:]
            for run in calibration {
                outcomes[run.key] = try RunExecution.outcome(of: run.spec, runs: scheduler.runs, cached: summary.doneBefore.contains(run.key))
            }
            plan = try plan.resolved(outcomes: outcomes)
            for family in plan.families {
                scheduler.say("[audit] best lr \(family.chosen.map(formatNumber) ?? "?") for \(family.uses.joined(separator: ", "))")
            }
        }
        let summary = try scheduler.execute(tasks, on: backend, collectOnly: collectOnly)
        if let job = summary.submittedJob {
            scheduler.say("[audit] submitted as Slurm job \(job); assemble the report with `olab audit --collect --out \(outDirectory)` (same scale and claims) once it is done")
            return nil
        }
        try summary.requireComplete(total: plan.runs.count, name: "audit", say: scheduler.say)
        var outcomes: [String: RunOutcome] = [:]
        for run in plan.runs {
            // "Cached" means finished before this invocation, not before its second phase.
            let cached = summary.doneBefore.contains(run.key) && !computedInPhaseOne.contains(run.key)
            outcomes[run.key] = try RunExecution.outcome(of: run.spec, runs: scheduler.runs, cached: cached)
        }
        if !collectOnly { scheduler.say("[audit] \(plan.runs.count) runs done in \(NumberText.duration(monotonicSeconds() - started))") }
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
