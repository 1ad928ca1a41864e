import OLCore
import OLKernels

/// A GPT-style byte-level causal language model (SPEC §3) with a hand-written backward pass.
///
/// Parameters and gradients are arenas of the same layout (`ModelConfig.parameterLayout`); forward
/// caches live in a third arena sized for `maxBatch` × `seq` and double as the activation taps, so taps
/// cost nothing: tap 0 is the embedding sum, tap l+1 the output of block l (before any final norm), and
/// `linearInput(layer:_:)` views the input of every linear layer.
/// Nothing is allocated after `init`.
public final class GPT: @unchecked Sendable {
    public let config: ModelConfig
    public let parameters: FloatArena
    public let gradients: FloatArena
    public let maxBatch: Int
    let acts: FloatArena
    let scratch: FloatArena
    let attentionOptions: AttentionOptions
    /// Batch and length of the last forward pass.
    public private(set) var batch = 0
    public private(set) var length = 0
    private let tokens: UnsafeMutableBufferPointer<Int32>
    private let targets: UnsafeMutableBufferPointer<Int32>
    private var hasTargets = false
    /// Times every kernel call by stage while set (`olab bench`); nil costs one check per call.
    public var profiler: KernelProfiler?

    /// A model over `parameters` (shared, not copied) able to run batches of up to `maxBatch` sequences.
    public init(config: ModelConfig, parameters: FloatArena, maxBatch: Int) throws {
        try config.validate()
        guard parameters.layout == config.parameterLayout() else {
            throw OutlierLabError("the parameters do not match the model config (\(config.block.rawValue), d=\(config.width), L=\(config.layers))")
        }
        guard maxBatch > 0 else { throw OutlierLabError("batch must be positive, got \(maxBatch)") }
        self.config = config
        self.parameters = parameters
        self.maxBatch = maxBatch
        gradients = FloatArena(layout: parameters.layout)
        attentionOptions = AttentionOptions(qkNorm: config.qkNorm, softCap: config.softCap.map { Float($0) })
        acts = FloatArena(layout: GPT.activationLayout(config, batch: maxBatch))
        scratch = FloatArena(layout: GPT.scratchLayout(config, batch: maxBatch, attention: attentionOptions))
        tokens = .allocate(capacity: maxBatch * config.seq)
        targets = .allocate(capacity: maxBatch * config.seq)
        tokens.initialize(repeating: 0)
        targets.initialize(repeating: 0)
    }

    /// A freshly initialised model.
    public convenience init(config: ModelConfig, seed: UInt64, maxBatch: Int) throws {
        try config.validate()
        let parameters = FloatArena(layout: config.parameterLayout())
        config.initialize(parameters, seed: seed)
        try self.init(config: config, parameters: parameters, maxBatch: maxBatch)
    }

    deinit {
        tokens.deallocate()
        targets.deallocate()
    }

    // MARK: - Buffers

    static func activationLayout(_ c: ModelConfig, batch: Int) -> ArenaLayout {
        let n = batch * c.seq, d = c.width
        var layout = ArenaLayout()
        func add(_ name: String, _ shape: Int...) { layout.append(TensorSpec(name: name, shape: shape, role: .vector)) }
        for l in 0...c.layers { add("res\(l)", n, d) }                      // (B, T, C) taps
        let options = AttentionOptions(qkNorm: c.qkNorm)
        for l in 0..<c.layers {
            let p = "h\(l)."
            add(p + "x1", n, d); add(p + "n1.mean", n); add(p + "n1.rstd", n)  // attention input (normed)
            add(p + "qkv", n, 3 * d)
            add(p + "att", batch * c.heads * c.seq * c.seq)                   // (B, H, T, T) probabilities
            if c.qkNorm {
                add(p + "qknormed", options.qkNormedCount(B: batch, T: c.seq, C: d))
                add(p + "qkrms", options.qkRmsCount(B: batch, T: c.seq, H: c.heads))
            }
            add(p + "atty", n, d); add(p + "attproj", n, d)
            add(p + "sum1", n, d); add(p + "mid", n, d)                       // postLN: LN(sum1) = mid
            add(p + "x2", n, d); add(p + "n2.mean", n); add(p + "n2.rstd", n)
            add(p + "fc", n, 4 * d); add(p + "act", n, 4 * d); add(p + "mlpproj", n, d)
            add(p + "sum2", n, d)
        }
        add("lnf.out", n, d); add("lnf.mean", n); add("lnf.rstd", n)
        add("logits", n, c.vocab); add("probs", n, c.vocab); add("losses", n)
        add("linear.in", n, 4 * d)                                            // transformed linear inputs
        return layout
    }

    static func scratchLayout(_ c: ModelConfig, batch: Int, attention: AttentionOptions) -> ArenaLayout {
        let n = batch * c.seq, d = c.width
        var layout = ArenaLayout()
        func add(_ name: String, _ count: Int) { layout.append(TensorSpec(name: name, shape: [count], role: .vector)) }
        for name in ["dres", "dmid", "dx", "datty", "dbranch", "dsum", "dfinal"] { add(name, n * d) }
        add("dqkv", n * 3 * d); add("dfc", n * 4 * d); add("dact", n * 4 * d)
        add("dlogits", n * c.vocab); add("dlosses", n)
        add("attention", attention.backwardScratchCount(B: batch, T: c.seq, C: d, H: c.heads))
        add("dbeta.unused", 1)
        return layout
    }

    @inline(__always) func a(_ name: String) -> UnsafeMutablePointer<Float> { acts.view(name).baseAddress! }
    @inline(__always) func s(_ name: String) -> UnsafeMutablePointer<Float> { scratch.view(name).baseAddress! }
    @inline(__always) func w(_ name: String) -> UnsafeMutablePointer<Float> { parameters.view(name).baseAddress! }
    @inline(__always) func g(_ name: String) -> UnsafeMutablePointer<Float> { gradients.view(name).baseAddress! }

    /// Residual stream at tap `index` (0...L) of the last forward pass: (batch·length, width).
    public func tap(_ index: Int) -> UnsafeBufferPointer<Float> {
        UnsafeBufferPointer(start: a("res\(index)"), count: batch * length * config.width)
    }

    /// The input the linear layer `linear` of block `layer` read in the last forward pass (what W8A8
    /// quantises): (batch·length, width) for qkv, attn_proj and fc, (batch·length, 4·width) for mlp_proj.
    /// A view of the forward caches, so linear-input taps cost nothing unless they are measured.
    public func linearInput(layer l: Int, _ linear: LinearLayer) -> (values: UnsafeBufferPointer<Float>, width: Int) {
        let p = "h\(l).", C = config.width
        let (start, width): (UnsafeMutablePointer<Float>, Int) = switch linear {
        case .qkv: (preNorm(l, slot: 1) == nil ? a("res\(l)") : a(p + "x1"), C)
        case .attnProj: (a(p + "atty"), C)
        case .fc: (preNorm(l, slot: 2) == nil ? a(p + "mid") : a(p + "x2"), C)
        case .mlpProj: (a(p + "act"), 4 * C)
        }
        return (UnsafeBufferPointer(start: start, count: batch * length * width), width)
    }

    /// Attention probabilities of layer `layer` from the last forward pass: (batch, heads, length, length).
    /// Only valid when the last forward ran at the full length `seq` (the buffer is laid out for it).
    public func attentionProbabilities(layer: Int) -> UnsafeBufferPointer<Float> {
        UnsafeBufferPointer(start: a("h\(layer).att"), count: batch * config.heads * length * length)
    }

    /// Per-token losses of the last forward pass with targets.
    public var tokenLosses: UnsafeBufferPointer<Float> { UnsafeBufferPointer(start: a("losses"), count: batch * length) }

    /// Logits of the last forward pass: (batch·length, vocab).
    public var logits: UnsafeBufferPointer<Float> { UnsafeBufferPointer(start: a("logits"), count: batch * length * config.vocab) }

    // MARK: - Forward

    /// Runs the model on `B` sequences of length `T` (row-major tokens, values 0..<256). With targets,
    /// returns the mean cross-entropy (summed in Double in index order). `transform`, when given,
    /// observes or rewrites activations at every `ActivationSite` (evaluation only).
    @discardableResult
    public func forward(tokens input: UnsafeBufferPointer<Int32>, targets expected: UnsafeBufferPointer<Int32>?,
                        B: Int, T: Int, transform: ActivationTransform? = nil) -> Double? {
        precondition(B > 0 && B <= maxBatch, "batch \(B) outside 1...\(maxBatch)")
        precondition(T > 0 && T <= config.seq, "length \(T) outside 1...\(config.seq)")
        precondition(input.count >= B * T, "need B·T tokens")
        batch = B
        length = T
        let N = B * T, C = config.width, V = config.vocab, H = config.heads
        _ = tokens.update(fromContentsOf: input[0..<N])
        hasTargets = expected != nil
        if let expected { _ = targets.update(fromContentsOf: expected[0..<N]) }

        timed(.embedding) { embeddingForward(out: a("res0"), tokens: tokens.baseAddress!, wte: w("wte"), wpe: w("wpe"), B: B, T: T, C: C, V: V) }
        transform?.transform(.embeddingSum, UnsafeMutableBufferPointer(start: a("res0"), count: N * C), rows: N, cols: C)
        for l in 0..<config.layers {
            let p = "h\(l)."
            let x = a("res\(l)")
            // Attention sub-block.
            let attnIn = normForward(l, slot: 1, input: x, N: N, transform: transform)
            linear(l, .qkv, out: a(p + "qkv"), inp: attnIn, weight: w(p + "attn.qkv"), N: N, C: C, OC: 3 * C, transform: transform)
            timed(.attention) {
                attentionForward(
                    out: a(p + "atty"), att: a(p + "att"),
                    qkNormed: config.qkNorm ? a(p + "qknormed") : nil, qkRms: config.qkNorm ? a(p + "qkrms") : nil,
                    qkv: a(p + "qkv"),
                    qScale: config.qkNorm ? w(p + "attn.q_norm") : nil, kScale: config.qkNorm ? w(p + "attn.k_norm") : nil,
                    B: B, T: T, C: C, H: H, options: attentionOptions,
                    transform: transform?.attentionTransform(layer: l, batch: B, heads: H, length: T))
            }
            linear(l, .attnProj, out: a(p + "attproj"), inp: a(p + "atty"), weight: w(p + "attn.proj"), N: N, C: C, OC: C, transform: transform)
            let mid = residualForward(l, index: 0, x: x, branch: a(p + "attproj"), N: N, transform: transform)
            // MLP sub-block.
            let mlpIn = normForward(l, slot: 2, input: mid, N: N, transform: transform)
            linear(l, .fc, out: a(p + "fc"), inp: mlpIn, weight: w(p + "mlp.fc"), N: N, C: C, OC: 4 * C, transform: transform,
                   outputAfterActivation: true)
            timed(.activation) {
                switch config.activation {
                case .relu: reluForward(out: a(p + "act"), inp: a(p + "fc"), N: N * 4 * C)
                case .gelu: geluForward(out: a(p + "act"), inp: a(p + "fc"), N: N * 4 * C)
                }
            }
            transform?.transform(.linearOutput(layer: l, linear: .fc), UnsafeMutableBufferPointer(start: a(p + "act"), count: N * 4 * C),
                                 rows: N, cols: 4 * C)
            linear(l, .mlpProj, out: a(p + "mlpproj"), inp: a(p + "act"), weight: w(p + "mlp.proj"), N: N, C: 4 * C, OC: C, transform: transform)
            _ = residualForward(l, index: 1, x: mid, branch: a(p + "mlpproj"), N: N, transform: transform)
        }
        let final = finalNormForward(N: N, transform: transform)
        timed(.matmul) { matmulForward(out: a("logits"), inp: final, weight: w(config.tiedHead ? "wte" : "lm_head"), N: N, C: C, OC: V) }
        guard expected != nil else { return nil }
        timed(.crossEntropy) {
            crossEntropyForward(losses: a("losses"), probs: a("probs"), logits: a("logits"), targets: targets.baseAddress!, N: N, V: V)
        }
        return meanLoss(a("losses"), count: N)
    }

    /// The input of the norm in `slot` (1: attention, 2: MLP) of block `l`, normalised as the block says;
    /// returns the pointer the sub-block reads (the input itself where the block has no pre-norm).
    private func normForward(_ l: Int, slot: Int, input: UnsafeMutablePointer<Float>, N: Int, transform: ActivationTransform?) -> UnsafeMutablePointer<Float> {
        let p = "h\(l).", C = config.width
        guard let (kind, prefix) = preNorm(l, slot: slot) else { return input }
        let out = a(p + "x\(slot)")
        applyNorm(kind, prefix: prefix, out: out, mean: a(p + "n\(slot).mean"), rstd: a(p + "n\(slot).rstd"), inp: input, N: N)
        transform?.transform(.normOutput(layer: l, index: slot - 1), UnsafeMutableBufferPointer(start: out, count: N * C), rows: N, cols: C)
        return out
    }

    /// The norm (kind and parameter prefix) applied to the input of sub-block `slot` of block `l`, if any.
    func preNorm(_ l: Int, slot: Int) -> (NormKind, String)? {
        switch config.block {
        case .preLN, .preRMS, .preSRMS: (config.block.norm!, "h\(l).ln\(slot)")
        case .op, .noNorm: (l == 0 && slot == 1) ? (.layerNorm, "h0.ln0") : nil
        case .postLN: nil
        }
    }

    private func applyNorm(_ kind: NormKind, prefix: String, out: UnsafeMutablePointer<Float>, mean: UnsafeMutablePointer<Float>,
                           rstd: UnsafeMutablePointer<Float>, inp: UnsafePointer<Float>, N: Int) {
        let C = config.width
        timed(.norm) {
        switch kind {
        case .layerNorm: layerNormForward(out: out, mean: mean, rstd: rstd, inp: inp, weight: w(prefix + ".g"), bias: w(prefix + ".b"), N: N, C: C)
        case .rmsNorm: rmsNormForward(out: out, rms: rstd, inp: inp, weight: w(prefix + ".g"), N: N, C: C)
        case .srmsNorm: srmsNormForward(out: out, rstd: rstd, inp: inp, N: N, C: C)
        }
        }
    }

    /// `outputAfterActivation`: the caller hands the output to `transform` after the MLP activation instead.
    private func linear(_ l: Int, _ kind: LinearLayer, out: UnsafeMutablePointer<Float>, inp: UnsafeMutablePointer<Float>,
                        weight: UnsafePointer<Float>, N: Int, C: Int, OC: Int, transform: ActivationTransform?,
                        outputAfterActivation: Bool = false) {
        var source = UnsafePointer(inp)
        if let transform {
            let copy = a("linear.in")
            copy.update(from: inp, count: N * C)
            transform.transform(.linearInput(layer: l, linear: kind), UnsafeMutableBufferPointer(start: copy, count: N * C), rows: N, cols: C)
            source = UnsafePointer(copy)
        }
        timed(.matmul) { matmulForward(out: out, inp: source, weight: weight, N: N, C: C, OC: OC) }
        guard !outputAfterActivation else { return }
        transform?.transform(.linearOutput(layer: l, linear: kind), UnsafeMutableBufferPointer(start: out, count: N * OC), rows: N, cols: OC)
    }

    /// The residual update after sub-block `index` of block `l`; returns the new residual stream.
    /// Pre-norm: x + branch; OP/noNorm: x + β·branch; Post-LN: LN(x + branch).
    private func residualForward(_ l: Int, index: Int, x: UnsafePointer<Float>, branch: UnsafePointer<Float>, N: Int,
                                 transform: ActivationTransform?) -> UnsafeMutablePointer<Float> {
        let p = "h\(l).", C = config.width
        let out = index == 0 ? a(p + "mid") : a("res\(l + 1)")
        switch config.block {
        case .postLN:
            let sum = a(p + "sum\(index + 1)")
            timed(.residual) { OLKernels.residualForward(out: sum, x: x, branch: branch, beta: 1, N: N * C) }
            applyNorm(.layerNorm, prefix: p + "ln\(index + 1)", out: out, mean: a(p + "n\(index + 1).mean"), rstd: a(p + "n\(index + 1).rstd"), inp: sum, N: N)
        default:
            timed(.residual) { OLKernels.residualForward(out: out, x: x, branch: branch, beta: branchWeight(l, index), N: N * C) }
        }
        transform?.transform(.residual(layer: l, index: index), UnsafeMutableBufferPointer(start: out, count: N * C), rows: N, cols: C)
        return out
    }

    func branchWeight(_ l: Int, _ index: Int) -> Float {
        config.block.scalesBranches ? w("h\(l).beta_" + (index == 0 ? "attn" : "mlp"))[0] : 1
    }

    private func finalNormForward(N: Int, transform: ActivationTransform?) -> UnsafeMutablePointer<Float> {
        let last = a("res\(config.layers)")
        guard config.usesFinalNorm else { return last }
        applyNorm(config.finalNormKind, prefix: "lnf", out: a("lnf.out"), mean: a("lnf.mean"), rstd: a("lnf.rstd"), inp: last, N: N)
        transform?.transform(.finalNormOutput, UnsafeMutableBufferPointer(start: a("lnf.out"), count: N * config.width), rows: N, cols: config.width)
        return a("lnf.out")
    }

    // MARK: - Backward

    /// Accumulates d(mean loss)/d(parameters) of the last forward pass into `gradients` (zero them first
    /// with `zeroGradients`). Frozen branch weights get no gradient.
    public func backward() {
        precondition(hasTargets, "backward needs a forward pass with targets")
        let B = batch, T = length, N = B * T, C = config.width, V = config.vocab, H = config.heads
        // Only the buffers the first kernels accumulate into; every other scratch buffer is cleared
        // right before its first use (zeroing the whole scratch arena cost ~5 ms per step).
        clear(s("dlogits"), N * V)
        clear(s("dres"), N * C)
        if config.usesFinalNorm { clear(s("dfinal"), N * C) }
        clear(s("dbeta.unused"), 1)
        let dlosses = s("dlosses")
        for i in 0..<N { dlosses[i] = 1 / Float(N) }
        timed(.crossEntropy, backward: true) {
            crossEntropyBackward(dlogits: s("dlogits"), dlosses: dlosses, probs: a("probs"), targets: targets.baseAddress!, N: N, V: V)
        }
        let final = config.usesFinalNorm ? a("lnf.out") : a("res\(config.layers)")
        let dfinal = config.usesFinalNorm ? s("dfinal") : s("dres")
        timed(.matmul, backward: true) {
            matmulBackward(dinp: dfinal, dweight: g(config.tiedHead ? "wte" : "lm_head"), dout: s("dlogits"), inp: final,
                           weight: w(config.tiedHead ? "wte" : "lm_head"), N: N, C: C, OC: V)
        }
        if config.usesFinalNorm {
            normBackward(config.finalNormKind, prefix: "lnf", dinp: s("dres"), dout: s("dfinal"), inp: a("res\(config.layers)"),
                         mean: a("lnf.mean"), rstd: a("lnf.rstd"), N: N)
        }
        // s("dres") now holds dL/d(res[L]); walk the blocks backwards.
        for l in stride(from: config.layers - 1, through: 0, by: -1) {
            let p = "h\(l)."
            let x = a("res\(l)"), mid = a(p + "mid")
            // MLP sub-block: dres is dL/d(output of the block).
            clear(s("dmid"), N * C)
            clear(s("dbranch"), N * C)
            residualBackward(l, index: 1, dx: s("dmid"), dbranch: s("dbranch"), dout: s("dres"), x: mid, branch: a(p + "mlpproj"), N: N)
            clear(s("dact"), N * 4 * C)
            timed(.matmul, backward: true) {
                matmulBackward(dinp: s("dact"), dweight: g(p + "mlp.proj"), dout: s("dbranch"), inp: a(p + "act"), weight: w(p + "mlp.proj"), N: N, C: 4 * C, OC: C)
            }
            clear(s("dfc"), N * 4 * C)
            timed(.activation, backward: true) {
                switch config.activation {
                case .relu: reluBackward(dinp: s("dfc"), dout: s("dact"), inp: a(p + "fc"), N: N * 4 * C)
                case .gelu: geluBackward(dinp: s("dfc"), dout: s("dact"), inp: a(p + "fc"), N: N * 4 * C)
                }
            }
            let mlpIn = preNorm(l, slot: 2) == nil ? mid : a(p + "x2")
            let dMlpIn = preNorm(l, slot: 2) == nil ? s("dmid") : s("dx")
            if dMlpIn == s("dx") { clear(s("dx"), N * C) }
            timed(.matmul, backward: true) {
                matmulBackward(dinp: dMlpIn, dweight: g(p + "mlp.fc"), dout: s("dfc"), inp: mlpIn, weight: w(p + "mlp.fc"), N: N, C: C, OC: 4 * C)
            }
            if let (kind, prefix) = preNorm(l, slot: 2) {
                normBackward(kind, prefix: prefix, dinp: s("dmid"), dout: s("dx"), inp: mid, mean: a(p + "n2.mean"), rstd: a(p + "n2.rstd"), N: N)
            }
            // Attention sub-block: dmid is dL/d(mid).
            clear(s("dres"), N * C)
            clear(s("dbranch"), N * C)
            residualBackward(l, index: 0, dx: s("dres"), dbranch: s("dbranch"), dout: s("dmid"), x: x, branch: a(p + "attproj"), N: N)
            clear(s("datty"), N * C)
            timed(.matmul, backward: true) {
                matmulBackward(dinp: s("datty"), dweight: g(p + "attn.proj"), dout: s("dbranch"), inp: a(p + "atty"), weight: w(p + "attn.proj"), N: N, C: C, OC: C)
            }
            clear(s("dqkv"), N * 3 * C)
            timed(.attention, backward: true) {
                attentionBackward(
                    dqkv: s("dqkv"),
                    dqScale: config.qkNorm ? g(p + "attn.q_norm") : nil, dkScale: config.qkNorm ? g(p + "attn.k_norm") : nil,
                    scratch: s("attention"), dout: s("datty"), qkv: a(p + "qkv"), att: a(p + "att"),
                    qkNormed: config.qkNorm ? a(p + "qknormed") : nil, qkRms: config.qkNorm ? a(p + "qkrms") : nil,
                    qScale: config.qkNorm ? w(p + "attn.q_norm") : nil, kScale: config.qkNorm ? w(p + "attn.k_norm") : nil,
                    B: B, T: T, C: C, H: H, options: attentionOptions)
            }
            let attnNorm = preNorm(l, slot: 1)
            let attnIn = attnNorm == nil ? x : a(p + "x1")
            let dAttnIn = attnNorm == nil ? s("dres") : s("dx")
            if attnNorm != nil { clear(s("dx"), N * C) }
            timed(.matmul, backward: true) {
                matmulBackward(dinp: dAttnIn, dweight: g(p + "attn.qkv"), dout: s("dqkv"), inp: attnIn, weight: w(p + "attn.qkv"), N: N, C: C, OC: 3 * C)
            }
            if let (kind, prefix) = attnNorm {
                normBackward(kind, prefix: prefix, dinp: s("dres"), dout: s("dx"), inp: x, mean: a(p + "n1.mean"), rstd: a(p + "n1.rstd"), N: N)
            }
        }
        timed(.embedding, backward: true) {
            embeddingBackward(dwte: g("wte"), dwpe: g("wpe"), dout: s("dres"), tokens: tokens.baseAddress!, B: B, T: T, C: C, V: V)
        }
    }

    /// Backward of `residualForward`: dx += ∂L/∂x, dbranch += ∂L/∂branch (and β's or the post-norm's
    /// parameter gradients), from dout = ∂L/∂(its output).
    private func residualBackward(_ l: Int, index: Int, dx: UnsafeMutablePointer<Float>, dbranch: UnsafeMutablePointer<Float>,
                                  dout: UnsafeMutablePointer<Float>, x: UnsafePointer<Float>, branch: UnsafePointer<Float>, N: Int) {
        let p = "h\(l).", C = config.width
        switch config.block {
        case .postLN:
            let dsum = s("dsum")
            clear(dsum, N * C)
            normBackward(.layerNorm, prefix: p + "ln\(index + 1)", dinp: dsum, dout: dout, inp: a(p + "sum\(index + 1)"),
                         mean: a(p + "n\(index + 1).mean"), rstd: a(p + "n\(index + 1).rstd"), N: N)
            timed(.residual, backward: true) {
                OLKernels.residualBackward(dx: dx, dbranch: dbranch, dbeta: s("dbeta.unused"), dout: dsum, branch: branch, beta: 1, N: N * C)
            }
        default:
            let name = p + "beta_" + (index == 0 ? "attn" : "mlp")
            let trains = config.block.scalesBranches && config.trainableBeta
            timed(.residual, backward: true) {
                OLKernels.residualBackward(dx: dx, dbranch: dbranch, dbeta: trains ? g(name) : s("dbeta.unused"), dout: dout,
                                           branch: branch, beta: branchWeight(l, index), N: N * C)
            }
        }
    }

    private func normBackward(_ kind: NormKind, prefix: String, dinp: UnsafeMutablePointer<Float>, dout: UnsafePointer<Float>,
                              inp: UnsafePointer<Float>, mean: UnsafePointer<Float>, rstd: UnsafePointer<Float>, N: Int) {
        let C = config.width
        timed(.norm, backward: true) {
        switch kind {
        case .layerNorm:
            layerNormBackward(dinp: dinp, dweight: g(prefix + ".g"), dbias: g(prefix + ".b"), dout: dout, inp: inp,
                              weight: w(prefix + ".g"), mean: mean, rstd: rstd, N: N, C: C)
        case .rmsNorm:
            rmsNormBackward(dinp: dinp, dweight: g(prefix + ".g"), dout: dout, inp: inp, weight: w(prefix + ".g"), rms: rstd, N: N, C: C)
        case .srmsNorm:
            srmsNormBackward(dinp: dinp, dout: dout, inp: inp, rstd: rstd, N: N, C: C)
        }
        }
    }

    @inline(__always) private func clear(_ p: UnsafeMutablePointer<Float>, _ count: Int) {
        timed(.clear, backward: true) { p.update(repeating: 0, count: count) }
    }

    /// Runs `body`, timed under `stage` when a profiler is installed.
    @inline(__always) private func timed(_ stage: ProfiledStage, backward: Bool = false, _ body: () -> Void) {
        if let profiler { profiler.measure(stage, backward: backward, body) } else { body() }
    }

    public func zeroGradients() { gradients.zero() }
}
