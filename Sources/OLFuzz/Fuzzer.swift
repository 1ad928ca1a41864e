#if canImport(Glibc)
import Glibc
#else
import Darwin
#endif
import OLCore
import OLGoldens

/// A seeded, deterministic random-mutation harness for the readers that take input from outside —
/// golden files (gzip + decode), safetensors (checkpoints), training configs (JSON text →
/// `TrainingConfig`), golden manifests, sweep grids, claims registries, and (given by the command line,
/// which owns the parser) its size and number flags. Each iteration mutates a valid seed input (bit
/// flips, interesting bytes and integers, deletions, insertions, duplications, truncation, number-token
/// swaps, splices) and requires: the reader accepts it or throws an `OutlierLabError` whose one line
/// starts with the input's name; an accepted input re-encodes to a fixed point; no iteration runs past
/// `timeout` (SIGALRM). A crash, hang or violated invariant prints the seed and iteration.
public struct Fuzzer {
    /// The readers it fuzzes (`olab fuzz --target`).
    public enum Target: String, Sendable, CaseIterable {
        case golden, safetensors, config, manifest, flags, grid, registry
    }

    /// The seeds and check of a target the library cannot build itself (the command line's flags).
    public struct ExternalTarget {
        public var seeds: [[UInt8]]
        /// True if the input was accepted, false if it was rejected cleanly; throws `FuzzFailure` otherwise.
        public var check: ([UInt8]) throws -> Bool
        public init(seeds: [[UInt8]], check: @escaping ([UInt8]) throws -> Bool) {
            self.seeds = seeds
            self.check = check
        }
    }

    /// What a run found: counts, time, the slowest and the largest input.
    public struct Summary: Sendable {
        public var accepted = 0, rejected = 0, largest = 0
        public var seconds = 0.0, slowest = 0.0
    }

    public var target: Target
    public var iterations: Int
    public var seed: UInt64
    public var maxInputBytes: Int
    public var timeout: UInt32
    /// Where the input of a failing iteration is written.
    public var failureOutput: String
    /// The `flags` target's seeds and check.
    public var flags: ExternalTarget?

    /// Golden inputs may decompress to at most this much: far above the seeds, far below memory limits.
    static let goldenDecompressedLimit = 16 << 20
    static let source = "fuzz-input"

    public init(target: Target, iterations: Int, seed: UInt64, maxInputBytes: Int, timeout: UInt32, failureOutput: String,
                flags: ExternalTarget? = nil) {
        self.target = target
        self.iterations = iterations
        self.seed = seed
        self.maxInputBytes = maxInputBytes
        self.timeout = timeout
        self.failureOutput = failureOutput
        self.flags = flags
    }

    /// Runs every iteration; a violated invariant is an `OutlierLabError` naming the seed and iteration,
    /// with the input written to `failureOutput`.
    public func run() throws -> Summary {
        let seeds = try FuzzSeeds.inputs(for: target, flags: flags)
        var random = RandomStream(seed: seed, purpose: "fuzz-" + target.rawValue)
        var summary = Summary()
        FuzzWatchdog.install(seed: seed)
        let started = monotonicSeconds()
        for iteration in 0..<iterations {
            var input = seeds[random.nextInt(below: seeds.count)]
            let compressAfterMutation = target == .golden && random.nextInt(below: 2) == 0
            if compressAfterMutation { input = try Gzip.decompress(input, source: "seed") }
            FuzzMutator.mutate(&input, seeds: seeds, random: &random, limit: maxInputBytes)
            if compressAfterMutation { input = try Gzip.compress(input, level: 1, source: "seed") }
            summary.largest = max(summary.largest, input.count)
            FuzzWatchdog.begin(iteration: iteration, seconds: timeout)
            let inputStarted = monotonicSeconds()
            do {
                if try check(input) { summary.accepted += 1 } else { summary.rejected += 1 }
                summary.slowest = max(summary.slowest, monotonicSeconds() - inputStarted)
            } catch let failure as FuzzFailure {
                alarm(0)
                try AtomicFile.write(input, to: failureOutput)
                throw OutlierLabError("fuzz \(target.rawValue) seed \(seed) iteration \(iteration): \(failure.reason); input written to \(failureOutput)")
            }
        }
        alarm(0)
        summary.seconds = monotonicSeconds() - started
        return summary
    }

    func check(_ input: [UInt8]) throws -> Bool {
        if target == .flags, let flags { return try flags.check(input) }
        return try FuzzChecks.check(target, input)
    }
}

/// An input that broke an invariant without crashing.
public struct FuzzFailure: Error {
    public let reason: String
    public init(reason: String) { self.reason = reason }
}
