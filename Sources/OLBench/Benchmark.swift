import OLCore
import OLKernels
import OLModel
import OLOptimizers

/// What `olab bench` measures and how often.
public struct BenchmarkOptions: Sendable {
    /// Timed repetitions per measurement; the report gives their median and spread.
    public var repeats = 5
    /// Untimed training steps before an arm's first repetition (SOAP's first call only builds its bases).
    public var warmupSteps = 3
    /// Training steps per repetition; 10 = SOAP's refresh period f, so every repetition holds one refresh.
    public var stepsPerRepeat = 10
    /// Minimum seconds per sgemm repetition (short shapes run many calls).
    public var sgemmSeconds = 0.2
    /// Arms to run, by name; empty runs all of `BenchmarkArm.all`.
    public var arms: [String] = []
    /// The model size every arm trains.
    public var model: BenchmarkModel = .bench
    public var seed: UInt64 = 0

    public init() {}

    /// A fast sanity run: two repetitions of two steps, short sgemm timings.
    public static var quick: BenchmarkOptions {
        var options = BenchmarkOptions()
        options.repeats = 2
        options.warmupSteps = 1
        options.stepsPerRepeat = 2
        options.sgemmSeconds = 0.02
        return options
    }

    public func validate() throws {
        guard repeats >= 1 else { throw OutlierLabError("--repeats must be at least 1, got \(repeats)") }
        guard warmupSteps >= 1 else { throw OutlierLabError("--warmup must be at least 1 (SOAP's first step only builds its bases), got \(warmupSteps)") }
        guard stepsPerRepeat >= 1 else { throw OutlierLabError("--steps must be at least 1, got \(stepsPerRepeat)") }
        let known = BenchmarkArm.all.map(\.name)
        for name in arms where !known.contains(name) {
            throw OutlierLabError("unknown arm '\(name)': choose from \(known.joined(separator: ", "))")
        }
    }
}

/// One model + optimiser combination the bench trains.
public struct BenchmarkArm: Sendable {
    public let name: String
    public let block: BlockKind
    public let optimizer: OptimizerKind

    /// Pre-LN+AdamW (the baseline), OP+AdamW (the paper's architecture fix), Pre-LN+SOAP (f = 10).
    public static let all = [
        BenchmarkArm(name: "preLN+adamw", block: .preLN, optimizer: .adamw),
        BenchmarkArm(name: "op+adamw", block: .op, optimizer: .adamw),
        BenchmarkArm(name: "preLN+soap", block: .preLN, optimizer: .soap),
    ]

    /// The arm's block on a model of `size`: byte vocabulary, ReLU, tied head.
    public func model(_ size: BenchmarkModel) -> ModelConfig {
        var config = ModelConfig()
        (config.width, config.layers, config.heads, config.seq) = size.shape
        config.block = block
        config.activation = .relu
        config.vocab = size.vocab
        return config
    }
    public static let batch = 16
}

/// The model sizes `olab bench` trains (`--model`), all with B = 16.
public enum BenchmarkModel: String, Sendable, CaseIterable {
    /// d = 256, L = 4, H = 4, T = 128: large enough for the matrix products to dominate.
    case bench
    /// d = 64, L = 4, H = 4, T = 64: the audit's model, which every audit and sweep run executes.
    case audit
    /// The outlier-regime study's model (issue 28): the audit's shape with a BOS token (V = 257), what
    /// the long study runs and `olab audit --scale regime` train.
    case regime

    /// (d, L, H, T).
    var shape: (width: Int, layers: Int, heads: Int, seq: Int) {
        switch self {
        case .bench: (256, 4, 4, 128)
        case .audit, .regime: (64, 4, 4, 64)
        }
    }

    /// Bytes, plus the BOS token for the regime model.
    var vocab: Int { self == .regime ? 257 : 256 }
}

/// Model FLOPs of one training step, the numerator of MFU.
///
/// FLOPs per token = 6·N + 12·L·T·d, where N = 12·L·d² + V·d counts the parameters that take part in
/// matrix products (QKV 3d², output d², MLP 8d² per block; the tied head V·d; not the position table,
/// the embedding gather or norm gains). 6·N is 2·N multiply-adds forward plus 4·N backward (input and
/// weight gradients). The attention term: per block and token, QKᵀ costs 2·T·d (T keys, d = H·d_h
/// products) and P·V another 2·T·d forward; the backward does twice that (dP, dV; dQ, dK), so
/// 3 · 4·T·d = 12·T·d per block. This is PaLM's convention (Chowdhery et al. 2022, App. B), counting the
/// full T×T score matrix; with a causal mask only about half of it is useful work (6·L·T·d).
public struct ModelFLOPs: Sendable {
    public let matmulParameters: Int
    public let attentionPerToken: Int
    public let tokensPerStep: Int

    public init(_ config: ModelConfig, batch: Int) {
        let d = config.width, L = config.layers
        matmulParameters = 12 * L * d * d + config.vocab * d
        attentionPerToken = 12 * L * config.seq * d
        tokensPerStep = batch * config.seq
    }

    public var perToken: Int { 6 * matmulParameters + attentionPerToken }
    public var perStep: Double { Double(perToken) * Double(tokensPerStep) }
}

/// A median with its spread over repetitions.
public struct Spread: Sendable {
    public let median: Double
    public let min: Double
    public let max: Double

    public init(_ samples: [Double]) {
        precondition(!samples.isEmpty, "no samples")
        let sorted = samples.sorted()
        let mid = sorted.count / 2
        median = sorted.count % 2 == 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2
        min = sorted.first!
        max = sorted.last!
    }

    /// max − min.
    public var range: Double { max - min }
}

/// One sgemm shape and its measured speed.
public struct SgemmResult: Sendable {
    public let name: String
    public let transposeA: Bool, transposeB: Bool
    public let m: Int, n: Int, k: Int
    public let gflops: Spread
}

/// Time of one stage of a step, averaged over the profiled steps.
public struct StageTime: Sendable {
    public let stage: String
    /// "forward", "backward" or "step" (the optimiser and clipping).
    public let phase: String
    public let milliseconds: Double
    public let callsPerStep: Double
}

/// One arm's throughput and per-stage breakdown.
public struct ArmResult: Sendable {
    public let arm: BenchmarkArm
    public let parameters: Int
    public let flops: ModelFLOPs
    /// Milliseconds per step, over repetitions.
    public let stepMilliseconds: Spread
    public let breakdown: [StageTime]
    /// The profiled steps' total; the stages above cover it up to `untracked`.
    public let profiledStepMilliseconds: Double
    public let memory: ArmMemory
    /// The SOAP family's own arithmetic per step (nil for the element-wise optimisers).
    public let optimizerArithmetic: SOAPArithmetic?

    public var tokensPerSecond: Double { Double(flops.tokensPerStep) / (stepMilliseconds.median / 1000) }
    /// Achieved model FLOP/s in GFLOP/s.
    public var gflops: Double { flops.perStep / (stepMilliseconds.median / 1000) / 1e9 }
    public func mfu(peak: Double) -> Double { gflops / peak }
    public var untrackedMilliseconds: Double { profiledStepMilliseconds - breakdown.reduce(0) { $0 + $1.milliseconds } }
}

/// One arm's accounted memory budget beside its measured peak resident set size, in bytes.
public struct ArmMemory: Sendable {
    /// The parameter arena (and the gradient arena, of the same layout).
    public let parameters: Int
    public let gradients: Int
    /// The optimiser's state after the timed steps (the tensors `exportState` names).
    public let optimizerState: Int
    /// The optimiser's own scratch (SOAP's per-worker workspaces; 0 for the element-wise optimisers).
    public let optimizerScratch: Int
    /// The model's activation caches and backward scratch: the bytes of their arenas (`GPT.cacheBytes`).
    /// Counted, not inferred from resident growth: a model built after another arm may reuse memory
    /// the allocator kept, which made that growth under-count by up to 50 MB.
    public let activationsAndScratch: Int
    /// Resident memory before the model was built (binary, libraries, the bench's own buffers).
    public let processBaseline: Int
    /// Peak resident set size while the arm ran (the high-water mark is reset when the arm starts on
    /// Linux; elsewhere it is the process's peak so far, and `peakIsPerArm` is false).
    public let peakResident: Int
    public let peakIsPerArm: Bool

    /// What the arm needs: parameters, gradients, optimiser state and scratch, activations and scratch.
    public var budget: Int { parameters + gradients + optimizerState + optimizerScratch + activationsAndScratch }
    /// Peak RSS over the budget (the issue's target is ≤ 1.5).
    public var ratio: Double { Double(peakResident) / Double(max(1, budget)) }
}

/// Everything one `olab bench` run measured.
public struct BenchmarkReport: Sendable {
    public let options: BenchmarkOptions
    public let sgemm: [SgemmResult]
    public let arms: [ArmResult]
    public let peakRSSMegabytes: Double
    public let blas: BLASInfo
    public let workerThreads: Int

    /// The measured sgemm peak (GFLOP/s): the fastest shape's median; the denominator of MFU.
    public var peakGflops: Double { sgemm.map(\.gflops.median).max() ?? .nan }

    /// Median step time of `arm` over that of Pre-LN + AdamW in the same run; nil when the Pre-LN + AdamW
    /// arm did not run.
    public func stepRatioToAdamW(_ arm: ArmResult) -> Double? {
        guard let reference = adamWReference else { return nil }
        return arm.stepMilliseconds.median / reference.stepMilliseconds.median
    }

    /// The lowest step ratio to Pre-LN + AdamW that `arm`'s optimiser arithmetic allows on this machine:
    /// the AdamW arm's step without its optimiser stage (the model's forward, backward and clipping, which
    /// the SOAP arm runs too), plus the SOAP family's own flops (`SOAPArithmetic`) at the measured sgemm
    /// peak, over the AdamW step. A bound, not an estimate: ssyrk and QR run no faster than the best sgemm,
    /// and the element-wise work is left out. Nil for element-wise optimisers or without the AdamW arm.
    public func arithmeticFloorRatio(_ arm: ArmResult) -> Double? {
        guard let work = arm.optimizerArithmetic, let reference = adamWReference, peakGflops > 0 else { return nil }
        let adamW = reference.stepMilliseconds.median
        let model = adamW - (reference.breakdown.first { $0.stage == ProfiledStage.optimizer.name }?.milliseconds ?? 0)
        return (model + work.total / (peakGflops * 1e9) * 1000) / adamW
    }

    private var adamWReference: ArmResult? { arms.first { $0.arm.name == BenchmarkArm.all[0].name } }
}

/// The measurements behind `olab bench`: sgemm speed, training throughput and MFU per arm, a per-stage
/// breakdown of a step, peak resident memory. Training steps are the trainer's: forward, backward,
/// global-norm clipping to 1.0, optimiser step at the optimiser's default learning rate (no schedule),
/// on random byte batches from a seeded stream.
public enum Benchmark {
    /// The sgemm shapes of a model's training step (bench model: N = B·T = 2048 rows, d = 256), plus 1024³,
    /// whose speed is the machine's peak whichever model runs.
    public static func sgemmShapes(batch: Int = BenchmarkArm.batch, config: ModelConfig = BenchmarkArm.all[0].model(.bench))
        -> [(name: String, transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int)] {
        let n = batch * config.seq, d = config.width, T = config.seq, hs = config.headDim, V = config.vocab
        return [
            ("qkv.fwd", false, true, n, 3 * d, d),
            ("attn_proj.fwd", false, true, n, d, d),
            ("fc.fwd", false, true, n, 4 * d, d),
            ("mlp_proj.fwd", false, true, n, d, 4 * d),
            ("head.fwd", false, true, n, V, d),
            ("fc.dinp", false, false, n, d, 4 * d),
            ("fc.dweight", true, false, 4 * d, d, n),
            ("scores.head", false, true, T, T, hs),
            ("pv.head", false, false, T, hs, T),
            ("square1024", false, false, 1024, 1024, 1024),
        ]
    }

    public static func run(_ options: BenchmarkOptions, progress: (String) -> Void = { _ in }) throws -> BenchmarkReport {
        try options.validate()
        var sgemm: [SgemmResult] = []
        for shape in sgemmShapes(config: BenchmarkArm.all[0].model(options.model)) {
            progress("sgemm \(shape.name)")
            sgemm.append(measureSgemm(name: shape.name, transposeA: shape.transposeA, transposeB: shape.transposeB,
                                      m: shape.m, n: shape.n, k: shape.k, options: options))
        }
        var arms: [ArmResult] = []
        for arm in BenchmarkArm.all where options.arms.isEmpty || options.arms.contains(arm.name) {
            progress("arm \(arm.name)")
            arms.append(try measure(arm, options: options))
        }
        return BenchmarkReport(options: options, sgemm: sgemm, arms: arms, peakRSSMegabytes: peakRSSMegabytes(),
                               blas: BLASInfo.current, workerThreads: Parallel.workerCount)
    }

    /// GFLOP/s of C = op(A)·op(B) at one shape: 2mnk flops per call, enough calls per repetition to fill
    /// `sgemmSeconds`, after one untimed call.
    static func measureSgemm(name: String, transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int,
                             options: BenchmarkOptions) -> SgemmResult {
        var rng = RandomStream(seed: options.seed, purpose: "bench.sgemm")
        let a = UnsafeMutableBufferPointer<Float>.allocate(capacity: m * k)
        let b = UnsafeMutableBufferPointer<Float>.allocate(capacity: k * n)
        let c = UnsafeMutableBufferPointer<Float>.allocate(capacity: m * n)
        defer { a.deallocate(); b.deallocate(); c.deallocate() }
        rng.fillNormal(a, std: 1)
        rng.fillNormal(b, std: 1)
        c.initialize(repeating: 0)
        let (lda, ldb) = (transposeA ? m : k, transposeB ? k : n)
        func call() {
            BLAS.sgemm(transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k, alpha: 1,
                       a: a.baseAddress!, lda: lda, b: b.baseAddress!, ldb: ldb, beta: 0, c: c.baseAddress!, ldc: n, parallel: true)
        }
        call()
        let start = KernelProfiler.now()
        call()
        let once = max(KernelProfiler.now() - start, 1e-7)
        let calls = max(1, Int(options.sgemmSeconds / once))
        var samples: [Double] = []
        for _ in 0..<options.repeats {
            let start = KernelProfiler.now()
            for _ in 0..<calls { call() }
            let seconds = KernelProfiler.now() - start
            samples.append(2 * Double(m) * Double(n) * Double(k) * Double(calls) / seconds / 1e9)
        }
        return SgemmResult(name: name, transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k, gflops: Spread(samples))
    }

    /// Trains one arm: warm-up, `repeats` timed repetitions of `stepsPerRepeat` steps, then the same
    /// number of steps with the profiler installed for the breakdown (not part of the timed median).
    static func measure(_ arm: BenchmarkArm, options: BenchmarkOptions) throws -> ArmResult {
        let config = arm.model(options.model), B = BenchmarkArm.batch, T = config.seq
        let peakIsPerArm = resetPeakResident()
        let baseline = ProcessMemory.peakResidentBytes()
        let model = try GPT(config: config, seed: options.seed, maxBatch: B)
        let optimizerConfig = OptimizerConfig.defaults(for: arm.optimizer)
        var optimizer = try optimizerConfig.makeOptimizer(layout: model.parameters.layout)
        let learningRate = Float(optimizerConfig.learningRate)
        var rng = RandomStream(seed: options.seed, purpose: "bench.data")
        let inputs = UnsafeMutableBufferPointer<Int32>.allocate(capacity: B * T)
        let targets = UnsafeMutableBufferPointer<Int32>.allocate(capacity: B * T)
        defer { inputs.deallocate(); targets.deallocate() }
        let profiler = KernelProfiler()
        var phaseSeconds = [0.0, 0.0]   // forward, backward of the profiled steps

        func step(profiled: Bool) throws {
            for i in 0..<(B * T) {
                inputs[i] = Int32(rng.nextInt(below: 256))
                targets[i] = Int32(rng.nextInt(below: 256))
            }
            let p: KernelProfiler? = profiled ? profiler : nil
            model.profiler = p
            let startForward = KernelProfiler.now()
            model.forward(tokens: UnsafeBufferPointer(inputs), targets: UnsafeBufferPointer(targets), B: B, T: T)
            let startBackward = KernelProfiler.now()
            try maybeMeasure(p, .clear) { model.zeroGradients() }
            model.backward()
            let endBackward = KernelProfiler.now()
            phaseSeconds[0] += startBackward - startForward
            phaseSeconds[1] += endBackward - startBackward
            try maybeMeasure(p, .clip) { _ = clipGlobalNorm(model.gradients, maxNorm: 1) }
            try maybeMeasure(p, .optimizer) {
                try optimizer.step(parameters: model.parameters, gradients: model.gradients, learningRate: learningRate)
            }
        }

        for _ in 0..<options.warmupSteps { try step(profiled: false) }
        var samples: [Double] = []
        for _ in 0..<options.repeats {
            let start = KernelProfiler.now()
            for _ in 0..<options.stepsPerRepeat { try step(profiled: false) }
            samples.append((KernelProfiler.now() - start) * 1000 / Double(options.stepsPerRepeat))
        }

        phaseSeconds = [0, 0]
        let start = KernelProfiler.now()
        for _ in 0..<options.stepsPerRepeat { try step(profiled: true) }
        let steps = Double(options.stepsPerRepeat)
        let profiledMilliseconds = (KernelProfiler.now() - start) * 1000 / steps
        let breakdown = stageBreakdown(profiler, phaseSeconds: phaseSeconds, steps: steps)
        let memory = accountedMemory(model: model, optimizer: optimizer, baseline: baseline, peakIsPerArm: peakIsPerArm)
        return ArmResult(arm: arm, parameters: model.parameters.layout.parameterCount, flops: ModelFLOPs(config, batch: B),
                         stepMilliseconds: Spread(samples), breakdown: breakdown, profiledStepMilliseconds: profiledMilliseconds,
                         memory: memory, optimizerArithmetic: (optimizer as? SOAP)?.arithmetic)
    }

    /// The arm's memory budget beside its peak RSS. The peak is read before `exportState` copies the
    /// optimiser state (the copies are not part of a step).
    static func accountedMemory(model: GPT, optimizer: any Optimizer, baseline: Int, peakIsPerArm: Bool) -> ArmMemory {
        let peak = ProcessMemory.peakResidentBytes()
        let arena = model.parameters.layout.totalCount * MemoryLayout<Float>.size
        let state = optimizer.exportState().reduce(0) { $0 + byteCount($1.values) }
        return ArmMemory(parameters: arena, gradients: arena, optimizerState: state,
                         optimizerScratch: (optimizer as? SOAP)?.workspaceBytes ?? 0,
                         activationsAndScratch: model.cacheBytes, processBaseline: baseline,
                         peakResident: peak, peakIsPerArm: peakIsPerArm)
    }

    /// Milliseconds per step of every profiled stage, plus each pass's untimed rest as "other".
    static func stageBreakdown(_ profiler: KernelProfiler, phaseSeconds: [Double], steps: Double) -> [StageTime] {
        var breakdown: [StageTime] = []
        for stage in ProfiledStage.allCases {
            for backward in [false, true] where profiler.calls(stage, backward: backward) > 0 {
                let phase = stage == .clip || stage == .optimizer ? "step" : backward ? "backward" : "forward"
                breakdown.append(StageTime(stage: stage.name, phase: phase,
                                           milliseconds: profiler.seconds(stage, backward: backward) * 1000 / steps,
                                           callsPerStep: Double(profiler.calls(stage, backward: backward)) / steps))
            }
        }
        // Whole forward and backward passes, for the stages a model does not time itself.
        let tracked = { (phase: String) in breakdown.filter { $0.phase == phase }.reduce(0) { $0 + $1.milliseconds } }
        for (index, phase) in ["forward", "backward"].enumerated() {
            let rest = phaseSeconds[index] * 1000 / steps - tracked(phase)
            breakdown.append(StageTime(stage: "other", phase: phase, milliseconds: rest, callsPerStep: 1))
        }
        return breakdown
    }

    @inline(__always) static func maybeMeasure(_ profiler: KernelProfiler?, _ stage: ProfiledStage, _ body: () throws -> Void) throws {
        if let profiler { try profiler.measure(stage, backward: false, body) } else { try body() }
    }

    /// Peak resident set size of this process in MiB (see `ProcessMemory.peakResidentBytes`).
    public static func peakRSSMegabytes() -> Double { ProcessMemory.peakResidentMiB() }

    /// Bytes of one exported tensor's values.
    static func byteCount(_ values: NamedTensor.Values) -> Int {
        switch values {
        case .float32(let v): v.count * 4
        case .float64(let v): v.count * 8
        case .int64(let v): v.count * 8
        case .uint8(let v): v.count
        case .int8(let v): v.count
        }
    }

    /// Resets the kernel's resident high-water mark (VmHWM) to the current RSS, so that the next reading
    /// of `ProcessMemory.peakResidentBytes` is this arm's peak; false where that is not possible.
    static func resetPeakResident() -> Bool {
        #if os(Linux)
        guard let file = fopen("/proc/self/clear_refs", "w") else { return false }
        defer { fclose(file) }
        return fputs("5", file) >= 0 && fflush(file) == 0
        #else
        return false
        #endif
    }
}

extension BenchmarkReport {
    /// The machine-readable report of `olab bench --json`.
    public var json: JSONValue {
        var sgemmMembers = sgemm.map { result in
            JSONMember(result.name, .object([
                "m": .int(Int64(result.m)), "n": .int(Int64(result.n)), "k": .int(Int64(result.k)),
                "op": .string((result.transposeA ? "T" : "N") + (result.transposeB ? "T" : "N")),
                "gflops": .double(result.gflops.median),
                "gflops_min": .double(result.gflops.min), "gflops_max": .double(result.gflops.max),
            ]))
        }
        sgemmMembers.append(JSONMember("peak", .double(peakGflops)))
        let armValues: [JSONValue] = arms.map { arm in
            let common: JSONValue = .object([
                "name": .string(arm.arm.name),
                "block": .string(arm.arm.block.rawValue),
                "optimizer": .string(arm.arm.optimizer.rawValue),
                "tokens_per_s": .double(arm.tokensPerSecond),
                "mfu": .double(arm.mfu(peak: peakGflops)),
                "model_gflops": .double(arm.gflops),
                "step_ms": .double(arm.stepMilliseconds.median),
                "step_ms_spread": .double(arm.stepMilliseconds.range),
                "step_ms_min": .double(arm.stepMilliseconds.min),
                "step_ms_max": .double(arm.stepMilliseconds.max),
                "parameters": .int(Int64(arm.parameters)),
                "flops_per_step": .double(arm.flops.perStep),
                "memory_bytes": .object([
                    "parameters": .int(Int64(arm.memory.parameters)), "gradients": .int(Int64(arm.memory.gradients)),
                    "optimizer_state": .int(Int64(arm.memory.optimizerState)),
                    "optimizer_scratch": .int(Int64(arm.memory.optimizerScratch)),
                    "activations_and_scratch": .int(Int64(arm.memory.activationsAndScratch)),
                    "budget": .int(Int64(arm.memory.budget)), "process_baseline": .int(Int64(arm.memory.processBaseline)),
                    "peak_rss": .int(Int64(arm.memory.peakResident)), "peak_is_per_arm": .bool(arm.memory.peakIsPerArm),
                    "rss_over_budget": .double(arm.memory.ratio),
                ]),
            ])
            guard case .object(var members) = common else { return common }
            if let ratio = stepRatioToAdamW(arm) { members.append(JSONMember("step_ratio_to_preLN_adamw", .double(ratio))) }
            if let work = arm.optimizerArithmetic {
                var arithmetic = [JSONMember("rotations_gflop", .double(work.rotations / 1e9)),
                                  JSONMember("statistics_gflop", .double(work.statistics / 1e9)),
                                  JSONMember("refresh_gflop_per_step", .double(work.refreshPerStep / 1e9)),
                                  JSONMember("total_gflop", .double(work.total / 1e9))]
                if let floor = arithmeticFloorRatio(arm) { arithmetic.append(JSONMember("floor_ratio_to_preLN_adamw", .double(floor))) }
                members.append(JSONMember("optimizer_arithmetic", .object(arithmetic)))
            }
            return .object(members)
        }
        let breakdown = arms.map { arm in
            JSONMember(arm.arm.name, .object([
                "profiled_step_ms": .double(arm.profiledStepMilliseconds),
                "stages": .array(arm.breakdown.map { stage in
                    .object([
                        "stage": .string(stage.stage), "phase": .string(stage.phase),
                        "ms": .double(stage.milliseconds), "calls": .double(stage.callsPerStep),
                        "share": .double(stage.milliseconds / arm.profiledStepMilliseconds),
                    ])
                }),
            ]))
        }
        let model = BenchmarkArm.all[0].model(options.model)
        return .object([
            "sgemm_gflops": .object(sgemmMembers),
            "arms": .array(armValues),
            "breakdown": .object(breakdown),
            "peak_rss_mb": .double(peakRSSMegabytes),
            "blas": blas.json,
            "threads": .object(["workers": .int(Int64(workerThreads)), "blas": .int(Int64(blas.threads))]),
            "model": .object([
                "size": .string(options.model.rawValue),
                "width": .int(Int64(model.width)), "layers": .int(Int64(model.layers)), "heads": .int(Int64(model.heads)),
                "seq": .int(Int64(model.seq)), "batch": .int(Int64(BenchmarkArm.batch)), "vocab": .int(Int64(model.vocab)),
                "activation": .string(model.activation.rawValue),
                "flops_per_token": .int(Int64(ModelFLOPs(model, batch: BenchmarkArm.batch).perToken)),
                "flops_formula": .string("6*(12*L*d^2 + V*d) + 12*L*T*d per token"),
            ]),
            "settings": .object([
                "repeats": .int(Int64(options.repeats)), "warmup_steps": .int(Int64(options.warmupSteps)),
                "steps_per_repeat": .int(Int64(options.stepsPerRepeat)), "seed": .int(Int64(bitPattern: options.seed)),
            ]),
            "harness_version": .string(Harness.version),
        ])
    }

    /// The human-readable report of `olab bench`.
    public var table: String {
        func fixed(_ value: Double, _ digits: Int) -> String { NumberText.fixed(value, digits: digits) }
        func pad(_ text: String, _ width: Int, left: Bool = false) -> String {
            let fill = String(repeating: " ", count: max(0, width - text.count))
            return left ? text + fill : fill + text
        }
        var lines: [String] = []
        lines.append("BLAS: \(blas.coreName), \(blas.threads) thread(s); OutlierLab workers: \(workerThreads)")
        lines.append("     \(blas.config)")
        lines.append("")
        lines.append("sgemm (median of \(options.repeats))      m     n     k  op    GFLOP/s   (min–max)")
        for result in sgemm {
            lines.append(pad(result.name, 20, left: true) + pad(String(result.m), 12) + pad(String(result.n), 6) + pad(String(result.k), 6)
                         + "  " + (result.transposeA ? "T" : "N") + (result.transposeB ? "T" : "N")
                         + pad(fixed(result.gflops.median, 1), 11) + "   (" + fixed(result.gflops.min, 1) + "–" + fixed(result.gflops.max, 1) + ")")
        }
        lines.append(pad("peak", 20, left: true) + pad(fixed(peakGflops, 1), 43))
        lines.append("")
        let model = BenchmarkArm.all[0].model(options.model)
        let flops = ModelFLOPs(model, batch: BenchmarkArm.batch)
        lines.append("training: d=\(model.width) L=\(model.layers) H=\(model.heads) T=\(model.seq) B=\(BenchmarkArm.batch) bytes, ReLU; "
                     + "\(fixed(flops.perStep / 1e9, 2)) GFLOP/step = 6·N·tokens + 12·L·T·d·tokens")
        lines.append("arm                 step ms   ±range   tokens/s   GFLOP/s    MFU   ×AdamW")
        for arm in arms {
            lines.append(pad(arm.arm.name, 16, left: true) + pad(fixed(arm.stepMilliseconds.median, 1), 11)
                         + pad(fixed(arm.stepMilliseconds.range, 1), 9) + pad(fixed(arm.tokensPerSecond, 0), 11)
                         + pad(fixed(arm.gflops, 1), 10) + pad(fixed(100 * arm.mfu(peak: peakGflops), 1) + "%", 8)
                         + pad(stepRatioToAdamW(arm).map { fixed($0, 2) } ?? "–", 9))
        }
        for arm in arms {
            guard let work = arm.optimizerArithmetic else { continue }
            let floor = arithmeticFloorRatio(arm).map { "; at the sgemm peak the lowest possible ×AdamW is " + fixed($0, 2) } ?? ""
            lines.append("\(arm.arm.name): its optimiser's own products \(fixed(work.total / 1e9, 1)) GFLOP/step (rotations "
                         + "\(fixed(work.rotations / 1e9, 1)), GG \(fixed(work.statistics / 1e9, 1)), refresh \(fixed(work.refreshPerStep / 1e9, 1)) per step)" + floor)
        }
        for arm in arms {
            lines.append("")
            lines.append("breakdown \(arm.arm.name) (ms per step, profiled step \(fixed(arm.profiledStepMilliseconds, 1)) ms)")
            for stage in arm.breakdown {
                lines.append("  " + pad(stage.phase, 9, left: true) + pad(stage.stage, 14, left: true)
                             + pad(fixed(stage.milliseconds, 2), 9)
                             + pad(fixed(100 * stage.milliseconds / arm.profiledStepMilliseconds, 1) + "%", 8)
                             + pad(fixed(stage.callsPerStep, 0) + " calls", 11))
            }
        }
        lines.append("")
        lines.append("memory (MiB)       params  grads  optim  o.scratch  acts+scratch  budget  baseline  peak RSS  RSS/budget")
        let mib = { (bytes: Int) in fixed(Double(bytes) / 1_048_576, 1) }
        for arm in arms {
            let m = arm.memory
            lines.append(pad(arm.arm.name, 16, left: true) + pad(mib(m.parameters), 9) + pad(mib(m.gradients), 7)
                         + pad(mib(m.optimizerState), 7) + pad(mib(m.optimizerScratch), 11) + pad(mib(m.activationsAndScratch), 14) + pad(mib(m.budget), 8)
                         + pad(mib(m.processBaseline), 10) + pad(mib(m.peakResident), 10) + pad(fixed(m.ratio, 2), 12)
                         + (m.peakIsPerArm ? "" : "  (process peak)"))
        }
        lines.append("peak RSS: \(fixed(peakRSSMegabytes, 1)) MB")
        return lines.joined(separator: "\n")
    }
}

private func _pow10(_ digits: Int) -> Double {
    var value = 1.0
    for _ in 0..<digits { value *= 10 }
    return value
}
