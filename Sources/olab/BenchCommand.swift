import ArgumentParser
import OLCore
import OLTraining

/// `olab bench`: sgemm peak, training throughput and MFU for three arms, a per-stage breakdown of a step
/// and peak memory, as a table or (`--json`) one JSON object on stdout.
struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Measure sgemm GFLOP/s, training tokens/s and MFU, a per-kernel step breakdown and peak memory."
    )

    @Flag(help: "Print one JSON object instead of the table.") var json = false
    @Flag(help: "Fast sanity run: 2 repeats of 2 steps, short sgemm timings.") var quick = false
    @Option(help: "Timed repetitions per measurement (median and spread reported; default 5, 2 with --quick).") var repeats: Int?
    @Option(help: "Training steps per repetition (default 10 = SOAP's refresh period).") var steps: Int?
    @Option(help: "Untimed warm-up steps per arm (default 3).") var warmup: Int?
    @Option(help: "OutlierLab worker threads (default OLAB_THREADS or the core count).") var threads: Int?
    @Option(help: "OpenBLAS threads (default: OpenBLAS's own, e.g. OPENBLAS_NUM_THREADS).") var blasThreads: Int?
    @Option(help: "Run only this arm (repeatable): preLN+adamw, op+adamw, preLN+soap.") var arm: [String] = []
    @Option(help: "Seed of the model initialisation and the random batches.") var seed: UInt64 = 0
    /// Anything the parser does not know, reported as one line by `run` instead of the usage text.
    @Argument(parsing: .allUnrecognized) var unrecognized: [String] = []

    func run() throws {
        if let first = unrecognized.first {
            throw OutlierLabError("unknown argument '\(first)' for olab bench (see olab bench --help)")
        }
        var options = quick ? BenchmarkOptions.quick : BenchmarkOptions()
        options.repeats = repeats ?? options.repeats
        options.stepsPerRepeat = steps ?? options.stepsPerRepeat
        options.warmupSteps = warmup ?? options.warmupSteps
        options.arms = arm
        options.seed = seed
        try options.validate()
        if let threads {
            guard threads >= 1 else { throw OutlierLabError("--threads must be at least 1, got \(threads)") }
            Parallel.workerCount = threads
        }
        if let blasThreads {
            guard blasThreads >= 1 else { throw OutlierLabError("--blas-threads must be at least 1, got \(blasThreads)") }
            BLASInfo.setThreads(blasThreads)
        }
        let report = try Benchmark.run(options) { step in
            if !json { print("… \(step)") }
        }
        print(json ? report.json.serialized(pretty: true) : report.table)
    }
}
