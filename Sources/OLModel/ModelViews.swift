import OLCore
import OLKernels

/// Typed views of the model's arenas (llm.c's `ParameterTensors` / `ActivationTensors`): every pointer a
/// forward or backward pass needs, looked up by name once in `GPT.init`, so a step builds no string and
/// searches no dictionary. Shapes use N = B·T rows and C = width.
typealias FloatPointer = UnsafeMutablePointer<Float>

/// One norm application: its caches and, for norms with parameters, its gain and bias with their gradients.
struct NormSite {
    let kind: NormKind
    let out: FloatPointer       // (N, C)
    let mean: FloatPointer      // (N) LayerNorm only
    let rstd: FloatPointer      // (N) 1/σ, or the RMS for RMSNorm
    let gain: FloatPointer?     // (C) LayerNorm, RMSNorm
    let bias: FloatPointer?     // (C) LayerNorm
    let dgain: FloatPointer?
    let dbias: FloatPointer?

    /// The norm whose parameters are `<prefix>.g` / `<prefix>.b` and whose caches are `<cache>` / `<cache>.mean|rstd`.
    init(_ kind: NormKind, parameters prefix: String, out: FloatPointer, caches: String, in model: ModelArenas) {
        self.kind = kind
        self.out = out
        mean = model.acts.pointer(caches + ".mean")
        rstd = model.acts.pointer(caches + ".rstd")
        let hasGain = kind != .srmsNorm, hasBias = kind == .layerNorm
        gain = hasGain ? model.parameters.pointer(prefix + ".g") : nil
        bias = hasBias ? model.parameters.pointer(prefix + ".b") : nil
        dgain = hasGain ? model.gradients.pointer(prefix + ".g") : nil
        dbias = hasBias ? model.gradients.pointer(prefix + ".b") : nil
    }
}

/// One residual sub-block (attention or MLP) as its recipe wires it: out = post(x + β·branch(pre(x))).
struct ResidualSite {
    /// 0: attention, 1: MLP (the index of its `ActivationSite`s).
    let index: Int
    /// The norm of the branch input, where the recipe has one here.
    let preNorm: NormSite?
    /// The norm of the residual sum (Post-LN).
    let postNorm: NormSite?
    let branch: FloatPointer    // (N, C) the branch output (attention or MLP projection)
    let sum: FloatPointer       // (N, C) x + branch before the post-norm
    let out: FloatPointer       // (N, C) the new residual stream
    /// β (a parameter) for scaled branches, nil for β = 1.
    let beta: FloatPointer?
    /// Where ∂L/∂β goes: the gradient of a trainable β; nil where β is not trained (not computed).
    let dbeta: FloatPointer?

    var weight: Float { beta?.pointee ?? 1 }
}

/// A linear layer's weight and its gradient.
struct LinearWeights {
    let weight: FloatPointer    // (OC, C)
    let gradient: FloatPointer

    init(_ name: String, in model: ModelArenas) {
        weight = model.parameters.pointer(name)
        gradient = model.gradients.pointer(name)
    }
}

/// Gated attention's parameters, gradients and caches (Bondarenko et al. 2023, §4.2).
struct GateViews {
    let weight: FloatPointer    // (H, C) W_g
    let bias: FloatPointer      // (H) b_g
    let dweight: FloatPointer
    let dbias: FloatPointer
    let raw: FloatPointer       // (N, C) the attention output before the gate
    let pi: FloatPointer        // (N, H) σ(x W_gᵀ + b_g)
}

/// Everything one block reads and writes.
struct BlockViews {
    let input: FloatPointer     // (N, C) res[l], the block's input tap
    let attention: ResidualSite
    let mlp: ResidualSite
    let qkv: LinearWeights, attnProj: LinearWeights, fc: LinearWeights, mlpProj: LinearWeights
    let qkvOut: FloatPointer    // (N, 3C)
    let att: FloatPointer       // (B, H, T, T) probabilities
    let qkNormed: FloatPointer? // QK-Norm caches
    let qkRms: FloatPointer?
    let qScale: FloatPointer?, kScale: FloatPointer?, dqScale: FloatPointer?, dkScale: FloatPointer?
    let atty: FloatPointer      // (N, C) attention output before its projection (after the gate, if any)
    let attClipped: FloatPointer? // (B, H, T, T) clipped probabilities (clipped softmax only)
    let gate: GateViews?        // gated attention only
    let fcOut: FloatPointer     // (N, 4C) before the activation
    let act: FloatPointer       // (N, 4C) after it: fcOut itself for ReLU (in place; x > 0 ⇔ relu(x) > 0 for the backward)

    init(layer l: Int, recipe: BlockRecipe, in model: ModelArenas) {
        let p = "h\(l).", a = model.acts
        input = a.pointer("res\(l)")
        func site(_ slot: Int, out: FloatPointer, branch: String, beta: String) -> ResidualSite {
            let preNormParameters = l == 0 && slot == 1 && recipe.normsFirstAttentionInput ? p + "ln0" : nil
            let pre: NormSite? = if let kind = recipe.preNorm {
                NormSite(kind, parameters: p + "ln\(slot)", out: a.pointer(p + "x\(slot)"), caches: p + "n\(slot)", in: model)
            } else if let prefix = preNormParameters {
                NormSite(.layerNorm, parameters: prefix, out: a.pointer(p + "x\(slot)"), caches: p + "n\(slot)", in: model)
            } else { nil }
            let post = recipe.postNorm.map { NormSite($0, parameters: p + "ln\(slot)", out: out, caches: p + "n\(slot)", in: model) }
            let trainsBeta = recipe.scaledBranches && model.config.trainableBeta
            return ResidualSite(index: slot - 1, preNorm: pre, postNorm: post, branch: a.pointer(p + branch), sum: a.pointer(p + "sum\(slot)"), out: out,
                                beta: recipe.scaledBranches ? model.parameters.pointer(p + beta) : nil,
                                dbeta: trainsBeta ? model.gradients.pointer(p + beta) : nil)
        }
        attention = site(1, out: a.pointer(p + "mid"), branch: "attproj", beta: "beta_attn")
        mlp = site(2, out: a.pointer("res\(l + 1)"), branch: "mlpproj", beta: "beta_mlp")
        qkv = LinearWeights(p + "attn.qkv", in: model)
        attnProj = LinearWeights(p + "attn.proj", in: model)
        fc = LinearWeights(p + "mlp.fc", in: model)
        mlpProj = LinearWeights(p + "mlp.proj", in: model)
        qkvOut = a.pointer(p + "qkv")
        att = a.pointer(p + "att")
        let qk = recipe.qkNorm
        qkNormed = qk ? a.pointer(p + "qknormed") : nil
        qkRms = qk ? a.pointer(p + "qkrms") : nil
        qScale = qk ? model.parameters.pointer(p + "attn.q_norm") : nil
        kScale = qk ? model.parameters.pointer(p + "attn.k_norm") : nil
        dqScale = qk ? model.gradients.pointer(p + "attn.q_norm") : nil
        dkScale = qk ? model.gradients.pointer(p + "attn.k_norm") : nil
        atty = a.pointer(p + "atty")
        attClipped = model.config.softmaxClip != nil ? a.pointer(p + "attclip") : nil
        gate = !model.config.gatedAttention ? nil : GateViews(
            weight: model.parameters.pointer(p + "attn.gate"), bias: model.parameters.pointer(p + "attn.gate.b"),
            dweight: model.gradients.pointer(p + "attn.gate"), dbias: model.gradients.pointer(p + "attn.gate.b"),
            raw: a.pointer(p + "attyraw"), pi: a.pointer(p + "gate"))
        fcOut = a.pointer(p + "fc")
        act = model.config.activation == .relu ? fcOut : a.pointer(p + "act")
    }
}

/// The embedding tables, the final norm and the head.
struct EndViews {
    let wte: LinearWeights      // (V, C), also the head when tied
    let wpe: LinearWeights      // (T, C)
    let head: LinearWeights     // (V, C)
    let finalNorm: NormSite?
    let logits: FloatPointer    // (N, V)
    let probs: FloatPointer     // (N, V)
    let losses: FloatPointer    // (N)
    let linearInputCopy: FloatPointer  // (N, 4C) a transformed linear input, evaluation only

    init(in model: ModelArenas) {
        let c = model.config, a = model.acts
        wte = LinearWeights("wte", in: model)
        wpe = LinearWeights("wpe", in: model)
        head = c.tiedHead ? wte : LinearWeights("lm_head", in: model)
        finalNorm = c.usesFinalNorm ? NormSite(c.finalNormKind, parameters: "lnf", out: a.pointer("lnf.out"), caches: "lnf", in: model) : nil
        logits = a.pointer("logits")
        probs = a.pointer("probs")
        losses = a.pointer("losses")
        linearInputCopy = a.pointer("linear.in")
    }
}

/// The backward pass's gradient buffers, shared by every block (each is cleared before its first use).
struct BackwardScratch {
    let residual: FloatPointer  // (N, C) ∂L/∂(residual stream) at the current point of the walk
    let mid: FloatPointer       // (N, C) ∂L/∂mid
    let normed: FloatPointer    // (N, C) ∂L/∂(a pre-norm's output)
    let atty: FloatPointer      // (N, C)
    let branch: FloatPointer    // (N, C) ∂L/∂(branch output)
    let sum: FloatPointer       // (N, C) ∂L/∂(residual sum) under a post-norm
    let final: FloatPointer     // (N, C) ∂L/∂(final norm output)
    let qkv: FloatPointer       // (N, 3C)
    let act: FloatPointer       // (N, 4C) ∂L/∂(activation output)
    let fc: FloatPointer        // (N, 4C) ∂L/∂(fc output): act itself (the activation's backward runs in place)
    let logits: FloatPointer    // (N, V)
    let losses: FloatPointer    // (N)
    let attention: FloatPointer // the attention kernel's own scratch
    let attyRaw: FloatPointer?  // (N, C) ∂L/∂(attention output before the gate), gated attention only
    let gateLogits: FloatPointer? // (N, H) ∂L/∂(gate logits), gated attention only

    init(_ s: FloatArena) {
        residual = s.pointer("dres"); mid = s.pointer("dmid"); normed = s.pointer("dx"); atty = s.pointer("datty")
        branch = s.pointer("dbranch"); sum = s.pointer("dsum"); final = s.pointer("dfinal")
        qkv = s.pointer("dqkv"); act = s.pointer("dact"); fc = act
        logits = s.pointer("dlogits"); losses = s.pointer("dlosses"); attention = s.pointer("attention")
        let gated = s.layout.index(of: "dattyraw") != nil
        attyRaw = gated ? s.pointer("dattyraw") : nil
        gateLogits = gated ? s.pointer("dgate") : nil
    }
}

/// The arenas views point into, before the model that owns them exists.
struct ModelArenas {
    let config: ModelConfig
    let parameters: FloatArena
    let gradients: FloatArena
    let acts: FloatArena
}

extension FloatArena {
    /// The start of the tensor named `name` (looked up once, when views are built).
    func pointer(_ name: String) -> FloatPointer { view(name).baseAddress! }
}
