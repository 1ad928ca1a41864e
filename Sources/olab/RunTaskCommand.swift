import ArgumentParser
import Foundation
import OLCore
import OLRuns

/// `olab run-task SPEC`: executes one cached run from its spec file — what every local worker process and
/// every Slurm array task of `olab audit` and `olab sweep` runs. Not for direct use, so hidden from help.
struct RunTaskCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run-task",
        abstract: "Execute one cached audit or sweep run from its spec file (used by the backends).",
        shouldDisplay: false
    )

    @Argument(help: "A <out>/runs/<key>.spec.json file.") var spec: String

    func run() throws {
        let loaded = try RunSpec.load(spec)
        let runs = FilePath.directory(of: spec)
        let prefix = "[run-task] \(loaded.key.prefix(12)) (\(loaded.label)): "
        let say: @Sendable (String) -> Void = { RunScheduler.printLine(prefix + $0) }
        ParentWatch.startIfRequested(announce: say)
        let outcome = try RunExecution.execute(loaded, runs: runs, announce: say, progress: { step in
            say("step \(step.step)/\(step.steps) loss \(formatNumber(step.loss)), \(Int(step.tokensPerSecond)) tok/s")
        })
        switch outcome {
        case .finished: say("done")
        case .failed(let message): say("failed (recorded in the cache): \(message)")
        }
    }
}

/// What `olab sweep` and `olab audit` share besides their folder and corpus: a dry run, whether files an
/// earlier run did not write may be replaced, and where the runs execute.
struct PlanOptions: ParsableArguments {
    @Flag(help: "List the runs and their estimated cost without training.") var dryRun = false
    @Flag(help: "Replace files in --out (report, results, figures) that an earlier run of this command did not write.") var overwrite = false
    @OptionGroup var execution: BackendOptions
}

/// Where audit and sweep runs execute, shared by both commands.
struct BackendOptions: ParsableArguments {
    @Option(help: "Where runs execute: local (worker processes on this machine) or slurm (a job array).") var backend = "local"
    @Option(help: "Local backend: runs at once (default: one per core, each single-threaded).") var jobs: Int?
    @Option(help: "Slurm: partition (sbatch --partition).") var partition: String?
    @Option(help: "Slurm: account (sbatch --account).") var account: String?
    @Option(help: "Slurm: time limit of each array task (sbatch --time), e.g. 30 or 1:00:00.") var timeLimit: String?
    @Option(help: "Slurm: CPUs per array task, also its OutlierLab thread count.") var cpusPerTask: Int = 1
    @Option(help: "Slurm: one more sbatch argument, as given (repeatable), e.g. --sbatch-arg=--qos=short.") var sbatchArg: [String] = []
    @Option(help: "Slurm: seconds between squeue polls while waiting.") var pollSeconds: Double = 5
    @Flag(help: "Slurm: return after submitting; assemble later with --collect.") var submitOnly = false
    @Flag(help: "Execute nothing: assemble the results of runs submitted earlier, or list what is missing.") var collect = false

    func resolved() throws -> RunBackend {
        switch backend {
        case "local":
            guard !submitOnly else { throw OutlierLabError("--submit-only applies to --backend slurm") }
            if let jobs, jobs < 1 { throw OutlierLabError("--jobs must be a positive integer, got \(jobs)") }
            return .local(jobs: jobs)
        case "slurm":
            guard jobs == nil else { throw OutlierLabError("--jobs applies to --backend local; Slurm runs every missing run as one array task") }
            guard cpusPerTask >= 1 else { throw OutlierLabError("--cpus-per-task must be a positive integer, got \(cpusPerTask)") }
            guard pollSeconds > 0, pollSeconds.isFinite else { throw OutlierLabError("--poll-seconds must be a positive number") }
            guard !(submitOnly && collect) else { throw OutlierLabError("--submit-only and --collect exclude each other") }
            return .slurm(SlurmOptions(partition: partition, account: account, timeLimit: timeLimit, cpusPerTask: cpusPerTask,
                                       extraArguments: sbatchArg, submitOnly: submitOnly, pollSeconds: pollSeconds))
        default:
            throw OutlierLabError("--backend must be local or slurm, got '\(backend)'")
        }
    }

    /// This `olab` binary by absolute path, for worker processes and Slurm tasks.
    static var executable: String {
        (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
    }
}
