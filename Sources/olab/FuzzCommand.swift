#if canImport(Glibc)
import Glibc
#else
import Darwin
#endif
import ArgumentParser
import OLAudit
import OLCore
import OLGoldens
import OLRuns
import OLTraining

/// `olab fuzz`: a seeded, deterministic random-mutation harness for the readers that take input from
/// outside — golden files (gzip + decode), safetensors (checkpoints), training configs (JSON text →
/// `TrainingConfig`), golden manifests, and the command line's size and number flags (an argument
/// vector, one argument per line, parsed and put through the commands' size checks, `SizeLimits`). Each iteration mutates a valid seed input (bit flips, interesting bytes and
/// integers, deletions, insertions, duplications, truncation, number-token swaps, splices) and requires:
/// the reader accepts it or throws an `OutlierLabError` whose one line starts with the input's name;
/// an accepted input re-encodes to a fixed point; no iteration runs past `--timeout` (SIGALRM); peak RSS
/// stays under `--max-rss-mb`. A crash, hang or violated invariant prints the seed and iteration.
struct FuzzCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fuzz",
        abstract: "Fuzz the golden, safetensors or config reader with seeded random mutations.",
        discussion: "Deterministic for a given --target, --seed and --iterations. Exit 0 when every input was accepted or rejected cleanly."
    )

    enum Target: String, ExpressibleByArgument, CaseIterable {
        case golden, safetensors, config, manifest, flags, grid, registry
    }

    @Option(help: "The reader to fuzz: golden|safetensors|config|manifest|flags (the numeric flags of train, eval, metrics and bench)|grid (sweep grids, expanded as --dry-run does)|registry (claims registries).") var target: Target
    @Option(help: "Number of mutated inputs.") var iterations = 10_000
    @Option(help: "Seed of the mutation stream.") var seed: UInt64 = 0
    @Option(help: "Inputs are cut to at most this many bytes.") var maxInputBytes = 1 << 20
    @Option(help: "Fail when the peak resident set size exceeds this many MiB.") var maxRssMb = 512
    @Option(help: "Seconds one input may take before it counts as a hang.") var timeout: UInt32 = 10
    @Option(help: "Write the input of a failing iteration here.") var failureOutput = "fuzz-failure.bin"

    /// Golden inputs may decompress to at most this much: far above the seeds, far below memory limits.
    static let goldenDecompressedLimit = 16 << 20
    static let source = "fuzz-input"

    func run() throws {
        guard (0...1_000_000_000).contains(iterations) else { throw OutlierLabError("--iterations must be in 0...1000000000, got \(iterations)") }
        _ = try SizeLimits.count(maxInputBytes, "--max-input-bytes", atMost: 64 << 20)
        _ = try SizeLimits.count(maxRssMb, "--max-rss-mb", atMost: 1 << 20)
        _ = try SizeLimits.count(Int(timeout), "--timeout", atMost: 3600)
        let seeds = try FuzzSeeds.inputs(for: target)
        var random = RandomStream(seed: seed, purpose: "fuzz-" + target.rawValue)
        var accepted = 0, rejected = 0, largest = 0, slowest = 0.0
        FuzzWatchdog.install(seed: seed)
        let started = monotonicSeconds()
        for iteration in 0..<iterations {
            var input = seeds[random.nextInt(below: seeds.count)]
            let compressAfterMutation = target == .golden && random.nextInt(below: 2) == 0
            if compressAfterMutation { input = try Gzip.decompress(input, source: "seed") }
            FuzzMutator.mutate(&input, seeds: seeds, random: &random, limit: maxInputBytes)
            if compressAfterMutation { input = try Gzip.compress(input, level: 1, source: "seed") }
            largest = max(largest, input.count)
            FuzzWatchdog.begin(iteration: iteration, seconds: timeout)
            let inputStarted = monotonicSeconds()
            do {
                if try FuzzChecks.check(target, input) { accepted += 1 } else { rejected += 1 }
                slowest = max(slowest, monotonicSeconds() - inputStarted)
            } catch let failure as FuzzFailure {
                alarm(0)
                try AtomicFile.write(input, to: failureOutput)
                throw OutlierLabError("fuzz \(target.rawValue) seed \(seed) iteration \(iteration): \(failure.reason); input written to \(failureOutput)")
            }
        }
        alarm(0)
        let seconds = monotonicSeconds() - started
        let peak = peakResidentMiB()
        let tenths = Int((seconds * 10).rounded())
        try printResult("fuzz \(target.rawValue): \(iterations) iterations, seed \(seed): \(accepted) accepted, \(rejected) rejected cleanly, 0 failures; "
            + "\(tenths / 10).\(tenths % 10) s, slowest input \(NumberText.fixed(slowest * 1000, digits: 1)) ms, peak RSS \(peak) MiB, largest input \(largest) bytes")
        guard peak <= maxRssMb else { throw OutlierLabError("fuzz \(target.rawValue): peak RSS \(peak) MiB exceeds --max-rss-mb \(maxRssMb)") }
    }
}

/// An input that broke an invariant without crashing.
struct FuzzFailure: Error {
    let reason: String
}

/// The per-target check: true if the reader accepted the input, false if it rejected it cleanly.
enum FuzzChecks {
    static func check(_ target: FuzzCommand.Target, _ input: [UInt8]) throws -> Bool {
        let source = FuzzCommand.source
        do {
            switch target {
            case .safetensors:
                let contents = try Safetensors.decode(input, source: source)
                let once = try Safetensors.encode(contents.tensors, metadata: contents.metadata)
                let twice = try Safetensors.encode(Safetensors.decode(once).tensors, metadata: contents.metadata)
                guard once == twice else { throw FuzzFailure(reason: "an accepted file does not re-encode to a fixed point") }
            case .golden:
                let content = try Gzip.decompress(input, limit: FuzzCommand.goldenDecompressedLimit, source: source)
                let file = try GoldenFile.decode(content, source: source)
                let once = try file.encoded()
                guard try GoldenFile.decode(once, source: source).encoded() == once else {
                    throw FuzzFailure(reason: "an accepted golden does not re-encode to a fixed point")
                }
            case .config:
                let config = try TrainingConfig(json: try JSONValue.parse(bytes: input, source: source), source: source)
                let again = try TrainingConfig(json: try JSONValue.parse(config.json.serialized(), source: source), source: source)
                guard again == config else { throw FuzzFailure(reason: "an accepted config does not survive config.json and back") }
                _ = try? config.requireFitsInMemory(source: source)
            case .manifest:
                let manifest = try GoldenManifest.decode(input, source: source)
                if let escaping = manifest.entries.keys.first(where: { GoldenManifest.pathProblem($0) != nil }) {
                    throw FuzzFailure(reason: "an accepted manifest lists a path that leaves Goldens/: \(escaping.debugDescription)")
                }
                guard try GoldenManifest.decode(manifest.encoded(), source: source) == manifest else {
                    throw FuzzFailure(reason: "an accepted manifest does not re-encode to a fixed point")
                }
            case .flags:
                return try FuzzFlags.check(input)
            case .grid:
                // What `olab sweep --dry-run` does before it lists: load, bound and expand the grid.
                let grid = try SweepGrid(json: try JSONValue.parse(bytes: input, source: source), source: source)
                let plan = try SweepPlan(grid: grid, corpus: "synthetic", source: source)
                let expected = grid.axes.reduce(grid.seeds.count) { $0 * $1.values.count }
                guard plan.runs.count == expected, expected <= SweepGrid.maximumRuns else {
                    throw FuzzFailure(reason: "an accepted grid expands to \(plan.runs.count) runs, not \(expected) within \(SweepGrid.maximumRuns)")
                }
            case .registry:
                let registry = try ClaimRegistry(json: try JSONValue.parse(bytes: input, source: source), source: source)
                for claim in registry.claims {
                    guard (try? Identifier.checkFileName(claim.id, "id")) != nil,
                          claim.arms.allSatisfy({ (try? Identifier.checkLabel($0.name, "arm")) != nil }) else {
                        throw FuzzFailure(reason: "an accepted registry has a claim id or arm name that cannot be a file name or label: \(claim.id.debugDescription)")
                    }
                }
            }
            return true
        } catch let error as OutlierLabError {
            guard error.message.hasPrefix(source), !error.message.contains("\n") else {
                throw FuzzFailure(reason: "the error is not one line starting with the input's name: \(error.message.debugDescription)")
            }
            return false
        } catch let failure as FuzzFailure {
            throw failure
        } catch {
            throw FuzzFailure(reason: "an error that is not an OutlierLabError: \(error)")
        }
    }
}

/// Valid inputs the mutations start from: small, but covering every dtype, compare mode and config key.
enum FuzzSeeds {
    static func inputs(for target: FuzzCommand.Target) throws -> [[UInt8]] {
        switch target {
        case .safetensors: return try safetensors()
        case .golden: return try goldens()
        case .config: return configs()
        case .manifest: return manifests()
        case .flags: return FuzzFlags.seeds
        case .grid: return grids()
        case .registry: return try registries()
        }
    }

    static func manifests() -> [[UInt8]] {
        let entry = #"{"sha256": "\#(String(repeating: "ab", count: 32))", "format_version": 1, "harness_version": "0.1.0"}"#
        return [
            #"{"manifest_version": 1, "goldens": {}}"#,
            #"{"manifest_version": 1, "goldens": {"kernels/ln.golden.gz": \#(entry), "train/tiny.run.golden.gz": \#(entry)}}"#,
            #"{"manifest_version": 1, "goldens": {"quant/w8a8/naive.golden.gz": \#(entry)}}"#,
        ].map { Array($0.utf8) }
    }

    static func tensors() -> [NamedTensor] {
        [
            NamedTensor(name: "wte", shape: [4, 3], floats: (0..<12).map { Float($0) * 0.25 - 1 }),
            NamedTensor(name: "h0.attn.qkv", shape: [2, 2], values: .float64([1, -2, .pi, 1e-300])),
            NamedTensor(name: "train.step", shape: [1], values: .int64([42])),
            NamedTensor(name: "data.rng", shape: [4], values: .int64([1, 2, 3, -4])),
            NamedTensor(name: "mask", shape: [5], values: .uint8([0, 1, 2, 254, 255])),
            NamedTensor(name: "scalar", shape: [], floats: [7]),
            NamedTensor(name: "empty", shape: [0, 4], floats: []),
        ]
    }

    static func safetensors() throws -> [[UInt8]] {
        let all = tensors()
        return [
            try Safetensors.encode(all, metadata: ["format": "outlierlab-checkpoint", "format_version": "1", "config": TrainingConfig().json.serialized()]),
            try Safetensors.encode(Array(all.prefix(2))),
            try Safetensors.encode([all[2]], metadata: ["note": "ünïcode ✓"]),
        ]
    }

    static func goldens() throws -> [[UInt8]] {
        let provenance = GoldenProvenance(harnessVersion: Harness.version, gitRevision: "abc1234", blasConfig: "OpenBLAS fuzz", blasCore: "Haswell", blasThreads: 2)
        let all = tensors()
        let modes: [CompareMode] = [.allclose(rtol: 1e-5, atol: 1e-6), .signCanonical(rtol: 1e-4, atol: 1e-5, axis: 1),
                                    .exact, .exact, .exact, .allclose(rtol: 0, atol: 0), .exact]
        let cases = [
            GoldenCase(suite: "kernels", name: "fuzz", kind: "kernel", config: .object(["width": 4, "lr": 1e-3, "block": "preLN"]), seed: 3,
                       tensors: zip(all, modes).map { GoldenTensor($0, compare: $1) }),
            GoldenCase(suite: "train", name: "tiny.run", kind: "training", config: TrainingConfig().json, seed: UInt64.max,
                       tensors: [GoldenTensor(all[0], compare: .allclose(rtol: 1e-6, atol: 1e-7))]),
        ]
        return try cases.map { try GoldenFile(goldenCase: $0, provenance: provenance).compressed(source: "seed") }
    }

    static func grids() -> [[UInt8]] {
        [#"{"base": {"width": 16, "layers": 2, "heads": 2, "seq": 16, "batch": 4, "steps": 40}, "axes": {"block": ["preLN", "op"], "lr": [0.001, 0.01]}, "seeds": [0, 1], "quantisation": [{"scheme": "w8a8-naive", "bits": 4}]}"#,
         #"{"base": {"steps": 10}, "axes": {"optimizer": ["adamw", "soap", "sgd"]}, "seeds": [3]}"#,
         #"{"base": {}, "axes": {"eps": [1e-8, 1e-6, 0.0001], "beta2": [0.95, 0.999], "final_lr_fraction": [0, 0.1]}, "seeds": [0, 1, 2, 4]}"#]
            .map { Array($0.utf8) }
    }

    /// The bundled registry and a two-claim one.
    static func registries() throws -> [[UInt8]] {
        let tiny = #"{"base":{"width":16,"layers":2,"heads":2,"seq":16,"batch":4,"steps":40,"log_every":10,"checkpoint_every":0,"eval_windows":4,"probe_batch":2,"synthetic_bytes":65536,"optimizer":"adamw","lr":0.01},"scales":{"quick":{"seeds":[0,1]},"full":{"seeds":[0,1,2]}},"claims":[{"id":"op-lower","statement":"OP has lower kurtosis than Pre-LN","paper":"§3","paper_says":"OP ≪ Pre-LN","arms":[{"name":"Pre-LN","config":{}},{"name":"OP","config":{"block":"op"}}],"metric":{"series":"kurtosis","excess":true,"steps":"tail_mean"},"predicate":{"kind":"ratio","pairs":[["Pre-LN","OP"]],"at_least":1.0}},{"id":"quant","statement":"kurtosis tracks quantisation damage","paper":"§6","paper_says":"rank correlation","arms":[{"name":"Pre-LN","config":{}},{"name":"OP","config":{"block":"op"}},{"name":"Pre-LN small lr","config":{"lr":0.001}}],"metric":{"series":"kurtosis"},"against":{"quantised":"delta_ppl","scheme":"w8a8-naive","bits":4},"predicate":{"kind":"spearman","at_least":0.5}}]}"#
        guard let bundled = try? FileBytes.read(try ClaimRegistry.bundledPath()) else { return [Array(tiny.utf8)] }
        return [Array(tiny.utf8), bundled]
    }

    static func configs() -> [[UInt8]] {
        var soap = TrainingConfig()
        soap.optimizerKind = .soap
        soap.model.block = .op
        soap.beta2 = 0.99
        soap.preconditionFrequency = 10
        soap.shampooBeta = 0.9
        var sgd = TrainingConfig()
        sgd.optimizerKind = .sgd
        sgd.momentum = 0.9
        sgd.nesterov = true
        sgd.model.block = .noNorm
        sgd.model.softCap = 30
        return [TrainingConfig().json.serialized(pretty: true), soap.json.serialized(), sgd.json.serialized(pretty: true),
                "{}", #"{"width": 64, "heads": 4, "layers": 2, "lr": 1e-3, "optimizer": "adamw", "eps_convention": "hf"}"#]
            .map { Array($0.utf8) }
    }
}

/// The `flags` target: an argument vector (one argument per line) for train, eval, metrics or bench,
/// parsed by ArgumentParser and checked by the command's own size path against a tiny run's config,
/// without training or loading anything. A parse error or an `OutlierLabError` is a clean rejection;
/// a trap (integer overflow, allocation) is the crash the fuzzer looks for.
enum FuzzFlags {
    static let seeds: [[UInt8]] = [
        "train\n--width\n64\n--heads\n4\n--layers\n2\n--seq\n32\n--batch\n8\n--steps\n100\n--stop-after\n10",
        "train\n--probe-batch\n4\n--eval-windows\n16\n--log-every\n10\n--checkpoint-every\n50\n--synthetic-bytes\n100000\n--precondition-frequency\n10",
        "train\n--lr\n0.001\n--eps\n1e-8\n--beta1\n0.9\n--warmup-fraction\n0.05\n--seed\n3\n--grad-clip\n1",
        "eval\n--checkpoint\nx\n--windows\n8\n--batch\n4",
        "eval\n--checkpoint\nx\n--quant\nw8a8-static\n--bits\n8\n--calibration-batches\n8\n--calibration-seed\n1\n--percentile\n99.999",
        "eval\n--checkpoint\nx\n--quant\nw8a8-naive\n--bits\n4\n--batch\n2",
        "metrics\n--checkpoint\nx\n--probe-batch\n4",
        "bench\n--repeats\n2\n--steps\n10\n--warmup\n3\n--threads\n2\n--seed\n0",
    ].map { Array($0.utf8) }

    /// The run the eval and metrics checks are measured against: a tiny model and a 10 kB validation split.
    static let config: TrainingConfig = {
        var config = TrainingConfig()
        config.model.width = 32
        config.model.heads = 4
        config.model.layers = 2
        config.model.seq = 32
        return config
    }()

    static func check(_ input: [UInt8]) throws -> Bool {
        let arguments = String(decoding: input, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        guard let name = arguments.first, ["train", "eval", "metrics", "bench"].contains(name) else { return false }
        let command: ParsableCommand
        do { command = try Olab.parseAsRoot(arguments) } catch { return false }
        do {
            switch command {
            case let train as TrainCommand:
                if let stopAfter = train.stopAfter { _ = try SizeLimits.count(stopAfter, "--stop-after", atMost: Int.max) }
                _ = try train.options.resolve()
            case let eval as EvalCommand:
                _ = try eval.sizes(config: config, validationBytes: 10_000)
            case let metrics as MetricsCommand:
                _ = try metrics.probeBatchSize(config: config)
            case let bench as BenchCommand:
                _ = try bench.options()
            default:
                return false
            }
        } catch let error as OutlierLabError {
            guard !boundedLine(error.message).contains("\n") else { throw FuzzFailure(reason: "a multi-line error: \(error.message.debugDescription)") }
            return false
        }
        return true
    }
}

/// Byte-level mutations, with a few that know about binary integers and JSON number tokens.
enum FuzzMutator {
    static let interestingBytes: [UInt8] = Array("\"{}[],:-0123456789eE.\\ ".utf8) + [0x00, 0x01, 0x0A, 0x7F, 0x80, 0xFE, 0xFF]
    static let interestingWords: [UInt64] = [0, 1, 7, 8, 0xFF, 0x7FFF_FFFF, 0x8000_0000, 0xFFFF_FFFF, 1 << 32, 1 << 40, 1 << 62,
                                             UInt64(Int64.max), 1 << 63, UInt64.max, 100_000_000, 100_000_001]
    static let numberTokens = ["0", "-0", "-1", "1", "3", "1e309", "-1e309", "1e-400", "NaN", "Infinity", "-Infinity", "0.5", "1.5",
                               "4294967296", "9223372036854775807", "9223372036854775808", "-9223372036854775808",
                               "18446744073709551616", "1e18", "99999999999999999999999", "null", "true", "\"x\"", "[]", "{}",
                               "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]"]

    static func mutate(_ bytes: inout [UInt8], seeds: [[UInt8]], random: inout RandomStream, limit: Int) {
        let count = 1 + random.nextInt(below: 4)
        for _ in 0..<count { mutateOnce(&bytes, seeds: seeds, random: &random) }
        if bytes.count > limit { bytes.removeLast(bytes.count - limit) }
    }

    private static func mutateOnce(_ bytes: inout [UInt8], seeds: [[UInt8]], random: inout RandomStream) {
        func position(_ extra: Int = 0) -> Int { random.nextInt(below: bytes.count + extra) }
        if bytes.isEmpty { bytes = [UInt8(truncatingIfNeeded: random.nextUInt64())]; return }
        switch random.nextInt(below: 10) {
        case 0:
            bytes[position()] ^= 1 << UInt8(random.nextInt(below: 8))
        case 1:
            bytes[position()] = interestingBytes[random.nextInt(below: interestingBytes.count)]
        case 2:
            let start = position(), length = min(1 + random.nextInt(below: 16), bytes.count - start)
            bytes.removeSubrange(start ..< start + length)
        case 3:
            let inserted = (0 ..< 1 + random.nextInt(below: 16)).map { _ in UInt8(truncatingIfNeeded: random.nextUInt64()) }
            bytes.insert(contentsOf: inserted, at: position(1))
        case 4:
            let start = position(), length = min(1 + random.nextInt(below: 64), bytes.count - start)
            bytes.insert(contentsOf: bytes[start ..< start + length], at: position(1))
        case 5:
            bytes.removeLast(bytes.count - position())
        case 6:
            let word = interestingWords[random.nextInt(below: interestingWords.count)]
            let start = random.nextInt(below: 3) == 0 ? 0 : position()
            for k in 0..<8 where start + k < bytes.count { bytes[start + k] = UInt8(truncatingIfNeeded: word >> (8 * UInt64(k))) }
        case 7, 8:
            replaceNumber(&bytes, random: &random)
        default:
            let other = seeds[random.nextInt(below: seeds.count)]
            guard !other.isEmpty else { return }
            let start = random.nextInt(below: other.count), length = min(1 + random.nextInt(below: 256), other.count - start)
            let at = position()
            bytes.replaceSubrange(at ..< min(bytes.count, at + length), with: other[start ..< start + length])
        }
    }

    /// Replaces the run of digits (with sign, dot and exponent) at or after a random position by a
    /// number token chosen to sit on a boundary: overflow, negative zero, NaN, deep nesting, wrong type.
    private static func replaceNumber(_ bytes: inout [UInt8], random: inout RandomStream) {
        func isNumberByte(_ byte: UInt8) -> Bool { (0x30...0x39).contains(byte) || byte == 0x2D || byte == 0x2E || byte == 0x65 || byte == 0x2B }
        var start = random.nextInt(below: bytes.count)
        while start < bytes.count && !(0x30...0x39).contains(bytes[start]) { start += 1 }
        guard start < bytes.count else { return }
        while start > 0 && isNumberByte(bytes[start - 1]) { start -= 1 }
        var end = start
        while end < bytes.count && isNumberByte(bytes[end]) { end += 1 }
        bytes.replaceSubrange(start ..< end, with: Array(numberTokens[random.nextInt(below: numberTokens.count)].utf8))
    }
}

/// SIGALRM (a hang) and crash signals print the seed and iteration before the process ends, so any
/// failure can be replayed with the same --seed and --iterations.
enum FuzzWatchdog {
    nonisolated(unsafe) static var iteration = 0
    nonisolated(unsafe) static var seed: UInt64 = 0

    static func install(seed: UInt64) {
        self.seed = seed
        for number in [SIGALRM, SIGSEGV, SIGILL, SIGTRAP, SIGBUS, SIGFPE, SIGABRT] { signal(number, fuzzSignalHandler) }
    }

    static func begin(iteration: Int, seconds: UInt32) {
        self.iteration = iteration
        alarm(seconds)
    }
}

private func fuzzSignalHandler(_ number: Int32) {
    var text: [UInt8] = Array((number == SIGALRM ? "error: fuzz: hang (timeout)" : "error: fuzz: crash (signal \(number))").utf8)
    text += Array(" at seed \(FuzzWatchdog.seed) iteration \(FuzzWatchdog.iteration)\n".utf8)
    _ = text.withUnsafeBytes { write(2, $0.baseAddress!, $0.count) }
    _exit(number == SIGALRM ? 3 : 4)
}

/// The process's peak resident set size in whole MiB.
func peakResidentMiB() -> Int { ProcessMemory.peakResidentBytes() / 1_048_576 }

