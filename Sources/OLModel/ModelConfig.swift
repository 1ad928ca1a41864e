import OLCore
import OLKernels

/// Which residual block the model is built from (<doc:OLModel>). The raw values are the CLI/config spellings.
public enum BlockKind: String, Sendable, CaseIterable {
    /// x ← x + Attn(LN(x)); x ← x + MLP(LN(x)); final LN.
    case preLN
    /// Pre-norm with RMSNorm.
    case preRMS
    /// Pre-norm with SRMSNorm (no parameters).
    case preSRMS
    /// x ← LN(x + Attn(x)); x ← LN(x + MLP(x)).
    case postLN
    /// Outlier Protected: no pre-norms (block 0's attention input excepted), β-scaled branches, QK-Norm.
    case op
    /// Like `op` (block-0 LayerNorm kept) without QK-Norm: the entropy-collapse ablation (optionally with
    /// logit soft-capping).
    case noNorm

    /// What the block is made of; every other property of a block kind follows from it.
    ///
    ///     preLN    x ← x + Attn(LN(x));       x ← x + MLP(LN(x))
    ///     postLN   x ← LN(x + Attn(x));       x ← LN(x + MLP(x))
    ///     op       x ← x + β·Attn_qk(x);      x ← x + β·MLP(x)     (block 0: Attn_qk(LN(x)))
    public var recipe: BlockRecipe {
        switch self {
        case .preLN:   BlockRecipe(preNorm: .layerNorm)
        case .preRMS:  BlockRecipe(preNorm: .rmsNorm)
        case .preSRMS: BlockRecipe(preNorm: .srmsNorm)
        case .postLN:  BlockRecipe(postNorm: .layerNorm)
        case .op:      BlockRecipe(scaledBranches: true, qkNorm: true, normsFirstAttentionInput: true)
        case .noNorm:  BlockRecipe(scaledBranches: true, normsFirstAttentionInput: true)
        }
    }

    /// Whether a final norm before the head is used when the config does not say: pre-norm blocks only.
    public var defaultFinalNorm: Bool { recipe.preNorm != nil }

    /// The norm applied before each sub-block, or after each residual sum (nil: none); also the final norm.
    public var norm: NormKind? { recipe.preNorm ?? recipe.postNorm }

    /// Whether the residual branches are scaled by trainable scalars β.
    public var scalesBranches: Bool { recipe.scaledBranches }

    /// Whether block 0's attention input gets a LayerNorm (`h0.ln0`) while the skip path stays
    /// un-normalised: OP, and noNorm as the paper code's unnormalised variant, which differs from OP only
    /// by QK-Norm.
    public var normsFirstAttentionInput: Bool { recipe.normsFirstAttentionInput }
}

/// A residual block as a recipe: both sub-blocks compute x ← post(x + β·branch(pre(x))).
public struct BlockRecipe: Sendable, Equatable {
    /// Norm of each branch's input (pre-norm blocks); nil: the branch reads the residual stream itself.
    public var preNorm: NormKind? = nil
    /// Norm of each residual sum (Post-LN); nil: the sum is the new residual stream.
    public var postNorm: NormKind? = nil
    /// Branch outputs scaled by a (trainable) scalar β per branch; otherwise β = 1.
    public var scaledBranches = false
    /// RMS-normalised queries and keys, with learned per-dimension scales.
    public var qkNorm = false
    /// Block 0's attention input gets a LayerNorm (`h0.ln0`); its skip path stays un-normalised.
    public var normsFirstAttentionInput = false
}

/// The normalisation layers (see <doc:OLModel>).
public enum NormKind: String, Sendable {
    case layerNorm, rmsNorm, srmsNorm
}

/// Shape and architecture of a byte-level GPT (<doc:OLModel>). One line per field says what it sets.
public struct ModelConfig: Sendable, Equatable {
    /// Vocabulary size V: 256 bytes, or 257 with a BOS token (set from the training config's `bos`).
    public var vocab = 256
    /// Model width d.
    public var width = 64
    /// Number of blocks L.
    public var layers = 2
    /// Attention heads H (d must be divisible by H).
    public var heads = 4
    /// Context length T, and the size of the learned position table.
    public var seq = 64
    /// The residual block.
    public var block: BlockKind = .preLN
    /// MLP activation (ReLU default).
    public var activation: Activation = .relu
    /// Tie the LM head to the token embedding.
    public var tiedHead = true
    /// Final norm before the head; nil means the block's default (on for pre-norm blocks, off otherwise).
    public var finalNorm: Bool? = nil
    /// Initial branch weight β₀ of `op`/`noNorm` blocks; nil means 1/√L.
    public var betaInit: Double? = nil
    /// Whether β is trained (false freezes it at β₀).
    public var trainableBeta = true
    /// tanh soft-cap of attention logits (`noNorm` only; 30 in the paper's ablation); nil disables it.
    public var softCap: Double? = nil
    /// Standard deviation of the N(0, σ²) weight initialisation.
    public var initStd = 0.02
    /// Clipped softmax's α (Bondarenko et al. 2023, Eq. 4.1, γ = −α/T with T = `seq`); nil: plain softmax.
    public var clippedSoftmaxAlpha: Double? = nil
    /// Clipped softmax's ζ ≥ 1 (used only with `clippedSoftmaxAlpha`).
    public var clippedSoftmaxZeta = 1.0
    /// Gated attention (Bondarenko et al. 2023, §4.2): each head's output times σ(x W_gᵀ + b_g).
    public var gatedAttention = false

    public init() {}

    /// The default config with the shape (and block) given.
    public init(width: Int, layers: Int, heads: Int, seq: Int, block: BlockKind = .preLN) {
        (self.width, self.layers, self.heads, self.seq, self.block) = (width, layers, heads, seq, block)
    }

    public var headDim: Int { width / heads }
    /// Whether the final norm is applied.
    public var usesFinalNorm: Bool { finalNorm ?? block.defaultFinalNorm }
    /// β₀.
    public var resolvedBetaInit: Double { betaInit ?? 1 / Double(layers).squareRoot() }
    /// QK-Norm is part of the OP block.
    public var qkNorm: Bool { block.recipe.qkNorm }
    /// The clipped softmax's ζ and γ = −α/T, or nil for the plain softmax.
    public var softmaxClip: SoftmaxClip? {
        clippedSoftmaxAlpha.map { SoftmaxClip(zeta: Float(clippedSoftmaxZeta), alpha: $0, length: seq) }
    }
    /// The attention kernel's options for this model.
    public var attentionOptions: AttentionOptions {
        AttentionOptions(qkNorm: qkNorm, softCap: softCap.map { Float($0) }, clip: softmaxClip)
    }

    /// The norms this model applies: its block's, block 0's attention LayerNorm where the block has
    /// one, and the final norm (the block's kind, LayerNorm for blocks without one).
    public var normKinds: Set<NormKind> {
        var kinds = Set([block.norm].compactMap { $0 })
        if block.normsFirstAttentionInput { kinds.insert(.layerNorm) }
        if usesFinalNorm { kinds.insert(finalNormKind) }
        return kinds
    }

    /// Everything an independent implementation needs to rebuild this model's forward pass, defaults
    /// resolved, with the constants of the kernels it uses (and only those, so a changed LayerNorm ε
    /// re-records no RMSNorm golden), as goldens record it: the NumPy replay reads every value from here
    /// and keeps none of its own, so a changed constant re-records and replays with no edit to it.
    public var goldenDescription: JSONValue {
        var members: [JSONMember] = [
            JSONMember("block", .string(block.rawValue)), JSONMember("vocab", .int(Int64(vocab))),
            JSONMember("width", .int(Int64(width))), JSONMember("layers", .int(Int64(layers))),
            JSONMember("heads", .int(Int64(heads))), JSONMember("seq", .int(Int64(seq))),
            JSONMember("activation", .string(activation.rawValue)), JSONMember("tied_head", .bool(tiedHead)),
            JSONMember("final_norm", .bool(usesFinalNorm)), JSONMember("qk_norm", .bool(qkNorm)),
            JSONMember("soft_cap", softCap.map { .double($0) } ?? .null),
        ]
        if normKinds.contains(.layerNorm) { members.append(JSONMember("layer_norm_eps", .shortest(layerNormEpsilon))) }
        if normKinds.contains(.rmsNorm) { members.append(JSONMember("rms_norm_eps", .shortest(rmsNormEpsilon))) }
        if qkNorm { members.append(JSONMember("qk_norm_eps", .shortest(qkNormEpsilon))) }
        if activation == .gelu { members.append(JSONMember("gelu_coefficient", .shortest(geluCubicCoefficient))) }
        // The remedies are written only when on, so every golden recorded before them keeps its header.
        if let clip = softmaxClip {
            members.append(JSONMember("clipped_softmax", .object([
                JSONMember("zeta", .shortest(clip.zeta)), JSONMember("gamma", .shortest(clip.gamma)),
            ])))
        }
        if gatedAttention { members.append(JSONMember("gated_attention", .bool(true))) }
        return .object(members)
    }

    /// Checks every field; the message names the field and says what is allowed.
    public func validate() throws {
        guard vocab == 256 || vocab == 257 else {
            throw OutlierLabError("vocab must be 256 (bytes) or 257 (bytes and a BOS token), got \(vocab)")
        }
        guard width > 0 else { throw OutlierLabError("width must be positive, got \(width)") }
        guard layers > 0 else { throw OutlierLabError("layers must be positive, got \(layers)") }
        guard heads > 0 else { throw OutlierLabError("heads must be positive, got \(heads)") }
        guard width % heads == 0 else {
            throw OutlierLabError("width \(width) is not divisible by heads \(heads): choose a width that is a multiple of the head count")
        }
        guard seq > 0 else { throw OutlierLabError("seq must be positive, got \(seq)") }
        guard initStd > 0, initStd.isFinite else { throw OutlierLabError("init_std must be positive, got \(initStd)") }
        if let beta = betaInit, !(beta.isFinite && beta > 0) {
            throw OutlierLabError("beta_init must be a positive number, got \(beta)")
        }
        if let cap = softCap {
            guard cap.isFinite, cap > 0 else { throw OutlierLabError("soft_cap must be positive, got \(cap)") }
            guard block == .noNorm else { throw OutlierLabError("soft_cap applies to the noNorm block only, not \(block.rawValue)") }
        }
        if let alpha = clippedSoftmaxAlpha, !(alpha.isFinite && alpha >= 0 && alpha < Double(seq)) {
            throw OutlierLabError("clipped_softmax_alpha must be in [0, seq) so that γ = −α/seq lies in (−1, 0], got \(alpha)")
        }
        guard clippedSoftmaxZeta.isFinite, clippedSoftmaxZeta >= 1 else {
            throw OutlierLabError("clipped_softmax_zeta must be at least 1, got \(clippedSoftmaxZeta)")
        }
        if clippedSoftmaxZeta != 1 && clippedSoftmaxAlpha == nil {
            throw OutlierLabError("clipped_softmax_zeta applies only with clipped_softmax_alpha set")
        }
    }
}
