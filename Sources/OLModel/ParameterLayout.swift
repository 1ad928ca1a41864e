import OLCore

/// Names and shapes of every parameter of a model, in arena order. The names are the tensor names of
/// checkpoints (`model.safetensors`), listed in OLTraining's Training article for PyTorch users.
///
///     wte (V, d)  wpe (T, d)
///     h{l}.ln0.{g,b}          op and noNorm, block 0 only: LayerNorm on the attention input
///     h{l}.ln1.{g,b}          pre-norm / post-norm before (after, for postLN) attention
///     h{l}.attn.qkv (3d, d)   h{l}.attn.proj (d, d)
///     h{l}.attn.{q,k}_norm (d_h)   op only: QK-RMSNorm scales, shared across heads
///     h{l}.attn.gate (H, d)   h{l}.attn.gate.b (H)   gated attention only: the gate's weight and bias
///     h{l}.ln2.{g,b}          as ln1, around the MLP
///     h{l}.mlp.fc (4d, d)     h{l}.mlp.proj (d, 4d)
///     h{l}.beta_{attn,mlp} (1)   op and noNorm: branch weights
///     lnf.{g,b}               final norm, when used
///     lm_head (V, d)          untied head only
extension ModelConfig {
    /// Norm parameters: LayerNorm has a gain and a bias, RMSNorm a gain, SRMSNorm nothing.
    static func normSpecs(_ prefix: String, _ kind: NormKind, width: Int) -> [TensorSpec] {
        switch kind {
        case .layerNorm: [TensorSpec(name: prefix + ".g", shape: [width], role: .vector),
                          TensorSpec(name: prefix + ".b", shape: [width], role: .vector)]
        case .rmsNorm: [TensorSpec(name: prefix + ".g", shape: [width], role: .vector)]
        case .srmsNorm: []
        }
    }

    /// The norm kind of the final norm (LayerNorm for blocks without their own norm, the paper's ablation).
    public var finalNormKind: NormKind { block.norm ?? .layerNorm }

    public func parameterLayout() -> ArenaLayout {
        let d = width
        var specs = [
            TensorSpec(name: "wte", shape: [vocab, d], role: .embedding),
            TensorSpec(name: "wpe", shape: [seq, d], role: .embedding),
        ]
        for l in 0..<layers {
            let p = "h\(l)"
            if block.normsFirstAttentionInput && l == 0 { specs += Self.normSpecs(p + ".ln0", .layerNorm, width: d) }
            if let norm = block.norm { specs += Self.normSpecs(p + ".ln1", norm, width: d) }
            specs.append(TensorSpec(name: p + ".attn.qkv", shape: [3 * d, d], role: .matrix))
            specs.append(TensorSpec(name: p + ".attn.proj", shape: [d, d], role: .matrix))
            if qkNorm {
                specs.append(TensorSpec(name: p + ".attn.q_norm", shape: [headDim], role: .vector))
                specs.append(TensorSpec(name: p + ".attn.k_norm", shape: [headDim], role: .vector))
            }
            if gatedAttention {
                // The gate's weight is a matrix like any linear's (decayed, preconditioned by SOAP); its bias a vector (not decayed).
                specs.append(TensorSpec(name: p + ".attn.gate", shape: [heads, d], role: .matrix))
                specs.append(TensorSpec(name: p + ".attn.gate.b", shape: [heads], role: .vector))
            }
            if let norm = block.norm { specs += Self.normSpecs(p + ".ln2", norm, width: d) }
            specs.append(TensorSpec(name: p + ".mlp.fc", shape: [4 * d, d], role: .matrix))
            specs.append(TensorSpec(name: p + ".mlp.proj", shape: [d, 4 * d], role: .matrix))
            if block.scalesBranches {
                specs.append(TensorSpec(name: p + ".beta_attn", shape: [1], role: .scalar))
                specs.append(TensorSpec(name: p + ".beta_mlp", shape: [1], role: .scalar))
            }
        }
        if usesFinalNorm { specs += Self.normSpecs("lnf", finalNormKind, width: d) }
        if !tiedHead { specs.append(TensorSpec(name: "lm_head", shape: [vocab, d], role: .matrix)) }
        return ArenaLayout(specs)
    }

    /// Fills a parameter arena with the initial values: weights and embeddings N(0, initStd²) drawn in
    /// arena order from the `init` stream of `seed`, norm gains and QK-norm scales 1, norm biases and the
    /// attention gate's bias 0 (so every gate starts half open, σ(0) = 0.5), branch weights β₀.
    public func initialize(_ parameters: FloatArena, seed: UInt64) {
        var rng = RandomStream(seed: seed, purpose: "init")
        for (index, spec) in parameters.layout.specs.enumerated() {
            let view = parameters.view(index)
            switch spec.role {
            case .matrix, .embedding: rng.fillNormal(view, std: initStd)
            case .scalar: view.update(repeating: Float(resolvedBetaInit))
            case .vector: view.update(repeating: spec.name.hasSuffix(".b") ? 0 : 1)
            }
        }
    }
}
