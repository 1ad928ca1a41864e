import OLCore
import OLKernels

/// A GPT-style byte-level causal language model (<doc:OLModel>) with a hand-written backward pass.
///
/// Parameters and gradients are arenas of the same layout (`ModelConfig.parameterLayout`); forward
/// caches live in a third arena sized for `maxBatch` × `seq` and double as the activation taps, so taps
/// cost nothing: tap 0 is the embedding sum, tap l+1 the output of block l (before any final norm), and
/// `linearInput(layer:_:)` views the input of every linear layer. Every buffer is reached through typed
/// views (`BlockViews`, `EndViews`, `BackwardScratch`) built once here. Nothing is allocated after `init`.
public final class GPT: @unchecked Sendable {
    public let config: ModelConfig
    public let parameters: FloatArena
    public let gradients: FloatArena
    public let maxBatch: Int
    let acts: FloatArena
    let scratch: FloatArena
    let attentionOptions: AttentionOptions
    /// Per block: its parameters, gradients and caches.
    let blocks: [BlockViews]
    /// Embeddings, final norm and head.
    let end: EndViews
    /// The residual stream taps res0...resL, (N, C) each.
    let taps: [FloatPointer]
    /// The backward pass's gradient buffers.
    let d: BackwardScratch
    /// Batch and length of the last forward pass.
    public internal(set) var batch = 0
    public internal(set) var length = 0
    let tokens: UnsafeMutableBufferPointer<Int32>
    let targets: UnsafeMutableBufferPointer<Int32>
    var hasTargets = false
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
        let gradients = FloatArena(layout: parameters.layout)
        let attentionOptions = config.attentionOptions
        let acts = FloatArena(layout: GPT.activationLayout(config, batch: maxBatch))
        let scratch = FloatArena(layout: GPT.scratchLayout(config, batch: maxBatch, attention: attentionOptions))
        (self.gradients, self.attentionOptions, self.acts, self.scratch) = (gradients, attentionOptions, acts, scratch)
        let arenas = ModelArenas(config: config, parameters: parameters, gradients: gradients, acts: acts)
        let d = BackwardScratch(scratch)
        self.d = d
        blocks = (0..<config.layers).map {
            BlockViews(layer: $0, recipe: config.block.recipe, in: arenas)
        }
        end = EndViews(in: arenas)
        taps = (0...config.layers).map { acts.pointer("res\($0)") }
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
            if c.softmaxClip != nil { add(p + "attclip", batch * c.heads * c.seq * c.seq) }  // (B, H, T, T) clipped
            if c.gatedAttention { add(p + "attyraw", n, d); add(p + "gate", n, c.heads) }   // before the gate; π
            add(p + "atty", n, d); add(p + "attproj", n, d)
            add(p + "sum1", n, d); add(p + "mid", n, d)                       // postLN: LN(sum1) = mid
            add(p + "x2", n, d); add(p + "n2.mean", n); add(p + "n2.rstd", n)
            add(p + "fc", n, 4 * d)
            if c.activation != .relu { add(p + "act", n, 4 * d) }            // ReLU runs in place on fc
            add(p + "mlpproj", n, d)
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
        add("dqkv", n * 3 * d); add("dact", n * 4 * d)                      // the activation's backward runs in place
        add("dlogits", n * c.vocab); add("dlosses", n)
        add("attention", attention.backwardScratchCount(B: batch, T: c.seq, C: d, H: c.heads))
        if c.gatedAttention { add("dattyraw", n * d); add("dgate", n * c.heads) }
        return layout
    }

    /// Residual stream at tap `index` (0...L) of the last forward pass: (batch·length, width).
    public func tap(_ index: Int) -> UnsafeBufferPointer<Float> {
        UnsafeBufferPointer(start: taps[index], count: batch * length * config.width)
    }

    /// The input the linear layer `linear` of block `layer` read in the last forward pass (what W8A8
    /// quantises): (batch·length, width) for qkv, attn_proj and fc, (batch·length, 4·width) for mlp_proj.
    /// A view of the forward caches, so linear-input taps cost nothing unless they are measured.
    public func linearInput(layer l: Int, _ linear: LinearLayer) -> (values: UnsafeBufferPointer<Float>, width: Int) {
        let b = blocks[l], C = config.width
        let (start, width): (FloatPointer, Int) = switch linear {
        case .qkv: (b.attention.preNorm?.out ?? b.input, C)
        case .attnProj: (b.atty, C)
        case .fc: (b.mlp.preNorm?.out ?? b.attention.out, C)
        case .mlpProj: (b.act, 4 * C)
        }
        return (UnsafeBufferPointer(start: start, count: batch * length * width), width)
    }

    /// Attention probabilities of layer `layer` from the last forward pass: (batch, heads, length, length).
    /// Only valid when the last forward ran at the full length `seq` (the buffer is laid out for it).
    public func attentionProbabilities(layer: Int) -> UnsafeBufferPointer<Float> {
        UnsafeBufferPointer(start: blocks[layer].att, count: batch * config.heads * length * length)
    }

    /// Per-token losses of the last forward pass with targets.
    public var tokenLosses: UnsafeBufferPointer<Float> { UnsafeBufferPointer(start: end.losses, count: batch * length) }

    /// Logits of the last forward pass: (batch·length, vocab).
    public var logits: UnsafeBufferPointer<Float> { UnsafeBufferPointer(start: end.logits, count: batch * length * config.vocab) }

    public func zeroGradients() { gradients.zero() }

    /// Bytes of the activation caches and the backward scratch (their arenas), for memory accounting.
    public var cacheBytes: Int { (acts.layout.totalCount + scratch.layout.totalCount) * MemoryLayout<Float>.size }

    // MARK: - Profiling

    @inline(__always) func clear(_ p: FloatPointer, _ count: Int) {
        timed(.clear, backward: true) { p.update(repeating: 0, count: count) }
    }

    /// Runs `body`, timed under `stage` when a profiler is installed.
    @inline(__always) func timed(_ stage: ProfiledStage, backward: Bool = false, _ body: () -> Void) {
        if let profiler { profiler.measure(stage, backward: backward, body) } else { body() }
    }
}
