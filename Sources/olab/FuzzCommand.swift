import ArgumentParser
import OLCore
import OLFuzz
import OLTraining

/// `olab fuzz`: the command over `Fuzzer` (OLFuzz), which holds the targets, seeds, mutations and
/// watchdog; the `flags` target is this command line's own (`FlagsFuzzTarget`).
struct FuzzCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fuzz",
        abstract: "Fuzz the golden, safetensors or config reader with seeded random mutations.",
        discussion: "Deterministic for a given --target, --seed and --iterations. Exit 0 when every input was accepted or rejected cleanly."
    )

    @Option(help: "The reader to fuzz: golden|safetensors|config|manifest|flags (the numeric flags of train, eval, metrics and bench)|grid (sweep grids, expanded as --dry-run does)|registry (claims registries).") var target: Fuzzer.Target
    @Option(help: "Number of mutated inputs.") var iterations = 10_000
    @Option(help: "Seed of the mutation stream.") var seed: UInt64 = 0
    @Option(help: "Inputs are cut to at most this many bytes.") var maxInputBytes = 1 << 20
    @Option(help: "Fail when the peak resident set size exceeds this many MiB.") var maxRssMb = 512
    @Option(help: "Seconds one input may take before it counts as a hang.") var timeout: UInt32 = 10
    @Option(help: "Write the input of a failing iteration here.") var failureOutput = "fuzz-failure.bin"

    func run() throws {
        guard (0...1_000_000_000).contains(iterations) else { throw OutlierLabError("--iterations must be in 0...1000000000, got \(iterations)") }
        _ = try SizeLimits.count(maxInputBytes, "--max-input-bytes", atMost: 64 << 20)
        _ = try SizeLimits.count(maxRssMb, "--max-rss-mb", atMost: 1 << 20)
        _ = try SizeLimits.count(Int(timeout), "--timeout", atMost: 3600)
        let fuzzer = Fuzzer(target: target, iterations: iterations, seed: seed, maxInputBytes: maxInputBytes, timeout: timeout,
                            failureOutput: failureOutput, flags: FlagsFuzzTarget.target)
        let summary = try fuzzer.run()
        let peak = ProcessMemory.peakResidentBytes() / 1_048_576
        let tenths = Int((summary.seconds * 10).rounded())
        try printResult("fuzz \(target.rawValue): \(iterations) iterations, seed \(seed): \(summary.accepted) accepted, \(summary.rejected) rejected cleanly, 0 failures; "
            + "\(tenths / 10).\(tenths % 10) s, slowest input \(NumberText.fixed(summary.slowest * 1000, digits: 1)) ms, peak RSS \(peak) MiB, largest input \(summary.largest) bytes")
        guard peak <= maxRssMb else { throw OutlierLabError("fuzz \(target.rawValue): peak RSS \(peak) MiB exceeds --max-rss-mb \(maxRssMb)") }
    }
}

extension Fuzzer.Target: ExpressibleByArgument {}
