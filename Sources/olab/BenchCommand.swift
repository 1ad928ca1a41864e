import ArgumentParser
import OLBench
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
    // Numbers are read as text and checked in `run`, so a bad value is one line, not the usage text.
    @Option(help: "Timed repetitions per measurement (median and spread reported; default 5, 2 with --quick).") var repeats: String?
    @Option(help: "Training steps per repetition (default 10 = SOAP's refresh period).") var steps: String?
    @Option(help: "Untimed warm-up steps per arm (default 3).") var warmup: String?
    @Option(help: "OutlierLab worker threads (default OLAB_THREADS or the core count).") var threads: String?
    @Option(help: "Run only this arm (repeatable): preLN+adamw, op+adamw, preLN+soap.") var arm: [String] = []
    @Option(help: "Model size: bench (d=256, L=4, H=4, T=128), audit (the audit's d=64, L=4, H=4, T=64) or regime (the audit's shape with a BOS token, V=257, as the outlier-regime study trains); B=16 all.") var model: String = "bench"
    @Option(help: "Seed of the model initialisation and the random batches (default 0).") var seed: String?
    /// Anything the parser does not know, reported as one line by `run` instead of the usage text.
    @Argument(parsing: .allUnrecognized, help: .hidden) var unrecognized: [String] = []

    /// The options these flags describe, every count checked by `SizeLimits`.
    func options() throws -> (options: BenchmarkOptions, threads: Int?) {
        if let first = unrecognized.first {
            throw OutlierLabError("unknown argument '\(String(first.prefix(100)).escapingControlCharacters)' for olab bench (see olab bench --help)")
        }
        var options = quick ? BenchmarkOptions.quick : BenchmarkOptions()
        options.repeats = try Self.count(repeats, "--repeats") ?? options.repeats
        options.stepsPerRepeat = try Self.count(steps, "--steps") ?? options.stepsPerRepeat
        options.warmupSteps = try Self.count(warmup, "--warmup") ?? options.warmupSteps
        options.arms = arm
        guard let size = BenchmarkModel(rawValue: model) else {
            throw OutlierLabError("--model must be one of \(BenchmarkModel.allCases.map(\.rawValue).joined(separator: "|")), got '\(model)'")
        }
        options.model = size
        if let seed {
            guard let value = UInt64(seed) else { throw OutlierLabError("--seed must be a non-negative integer, got '\(String(seed.prefix(40)).escapingControlCharacters)'") }
            options.seed = value
        }
        try options.validate()
        return (options, try threads.map { try SizeLimits.count(text: $0, "--threads", atMost: SizeLimits.maximumThreads) })
    }

    func run() throws {
        let (options, threads) = try options()
        if let threads { Parallel.workerCount = threads }
        let report = try Benchmark.run(options) { step in
            let line = "bench: \(step)\n"
            _ = line.withCString { write(2, $0, strlen($0)) }   // progress on stderr, results on stdout
        }
        try printResult(json ? report.json.serialized(pretty: true) : report.table)
    }

    /// A positive integer flag value (at most `SizeLimits.maximumBenchCount`), or nil when the flag is absent.
    static func count(_ text: String?, _ flag: String) throws -> Int? {
        try text.map { try SizeLimits.count(text: $0, flag, atMost: SizeLimits.maximumBenchCount) }
    }
}
