import ArgumentParser
import Foundation
import OLCore
import OLReports
import OLRuns

/// `olab sweep GRID.json`: a user's own grid of config overrides × seeds, run on the local cores or as a
/// Slurm job array into the same config-hash cache as the audit, summarised as results.jsonl,
/// results.csv and summary.html.
struct SweepCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sweep",
        abstract: "Run a grid of config overrides × seeds and tabulate losses, perplexities and outlier metrics."
    )

    @Argument(help: "Sweep grid JSON: {\"base\": {config keys}, \"axes\": {key: [values]}, \"seeds\": [0, 1], \"quantisation\": [{\"scheme\": \"w8a8-naive\", \"bits\": 4}]}.")
    var grid: String
    @Option(help: "Output folder for results and the run cache.") var out = "sweep-out"
    @Option(help: "Corpus file or directory for every run (overrides the grid's own; default: the grid's, else synthetic).") var corpus: String?
    @OptionGroup var options: PlanOptions

    func run() throws {
        let backend = try options.execution.resolved()
        let plan = try SweepPlan(grid: try SweepGrid.load(grid), corpus: corpus, source: grid)
        let runs = out + "/runs"
        try ReportFolder.check(out, files: SweepResults.fileNames, replace: options.overwrite)
        if options.dryRun {
            for (index, task) in plan.tasks.enumerated() {
                let cached = RunExecution.isDone(task.spec, runs: runs) ? " (cached)" : ""
                print("\(index + 1). \(task.spec.key.prefix(12)) \(task.spec.label) ~\(NumberText.duration(task.estimatedSeconds))\(cached)")
            }
            return
        }
        let scheduler = RunScheduler(runs: runs, executable: BackendOptions.executable, name: "sweep", say: RunScheduler.printLine)
        let summary = try scheduler.execute(plan.tasks, on: backend, collectOnly: options.execution.collect)
        if let job = summary.submittedJob {
            RunScheduler.printLine("[sweep] submitted as Slurm job \(job); tabulate with `olab sweep \(grid) --collect --out \(out)` once it is done")
            return
        }
        try summary.requireComplete(total: plan.runs.count, name: "sweep", say: RunScheduler.printLine)
        try SweepResults(plan: plan, runs: runs).write(to: out, replace: options.overwrite)
        print("[sweep] \(plan.runs.count) runs: \(out)/results.csv, \(out)/results.jsonl, \(out)/summary.html")
    }
}
