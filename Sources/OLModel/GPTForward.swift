import OLCore
import OLKernels

/// One forward pass's shape and its activation transform (evaluation only).
struct ForwardPass {
    let B: Int, T: Int
    let transform: ActivationTransform?
    var N: Int { B * T }

    /// Hands `values` (N, cols) to the transform at `site`, if one is installed.
    @inline(__always) func observe(_ site: ActivationSite, _ values: FloatPointer, cols: Int) {
        transform?.transform(site, UnsafeMutableBufferPointer(start: values, count: N * cols), rows: N, cols: cols)
    }
}

extension GPT {
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
        let pass = ForwardPass(B: B, T: T, transform: transform)
        let N = pass.N, C = config.width, V = config.vocab
        _ = tokens.update(fromContentsOf: input[0..<N])
        hasTargets = expected != nil
        if let expected { _ = targets.update(fromContentsOf: expected[0..<N]) }

        timed(.embedding) {
            embeddingForward(out: taps[0], tokens: tokens.baseAddress!, wte: end.wte.weight, wpe: end.wpe.weight, B: B, T: T, C: C, V: V)
        }
        pass.observe(.embeddingSum, taps[0], cols: C)
        for (l, block) in blocks.enumerated() {
            // x ← post(x + β·Attn(pre(x)));  x ← post(x + β·MLP(pre(x))): `BlockKind.recipe` says what pre, β and post are.
            attention(block, layer: l, input: branchInput(block.attention, layer: l, x: block.input, pass), pass)
            let mid = addBranch(block.attention, layer: l, x: block.input, pass)
            mlp(block, layer: l, input: branchInput(block.mlp, layer: l, x: mid, pass), pass)
            addBranch(block.mlp, layer: l, x: mid, pass)
        }
        let final = finalNormed(pass)
        timed(.matmul) { matmulForward(out: end.logits, inp: final, weight: end.head.weight, N: N, C: C, OC: V) }
        guard expected != nil else { return nil }
        timed(.crossEntropy) {
            crossEntropyForward(losses: end.losses, probs: end.probs, logits: end.logits, targets: targets.baseAddress!, N: N, V: V)
        }
        return meanLoss(end.losses, count: N)
    }

    /// pre(x): the branch input, normalised where the recipe has a pre-norm, else x itself.
    private func branchInput(_ site: ResidualSite, layer l: Int, x: FloatPointer, _ pass: ForwardPass) -> FloatPointer {
        guard let norm = site.preNorm else { return x }
        normForward(norm, inp: x, N: pass.N)
        pass.observe(.normOutput(layer: l, index: site.index), norm.out, cols: config.width)
        return norm.out
    }

    /// Attn(input) into the attention site's branch: qkv projection, causal attention (QK-Norm where the
    /// recipe has it, a clipped softmax and a gate where the config asks), output projection.
    private func attention(_ b: BlockViews, layer l: Int, input: FloatPointer, _ pass: ForwardPass) {
        let C = config.width, H = config.heads
        linear(l, .qkv, b.qkv, out: b.qkvOut, inp: input, C: C, OC: 3 * C, pass)
        timed(.attention) {
            attentionForward(
                out: b.gate?.raw ?? b.atty, att: b.att, clipped: b.attClipped, qkNormed: b.qkNormed, qkRms: b.qkRms, qkv: b.qkvOut,
                qScale: b.qScale, kScale: b.kScale, B: pass.B, T: pass.T, C: C, H: H, options: attentionOptions,
                transform: pass.transform?.attentionTransform(layer: l, batch: pass.B, heads: H, length: pass.T))
        }
        if let gate = b.gate {
            // The gate reads the qkv projection's input: with a transform, the copy it quantised (one tensor, one quantisation).
            let x = pass.transform == nil ? input : end.linearInputCopy
            timed(.attention) {
                attentionGateForward(out: b.atty, gate: gate.pi, inp: gate.raw, x: x, weight: gate.weight, bias: gate.bias,
                                     N: pass.N, C: C, H: H)
            }
        }
        linear(l, .attnProj, b.attnProj, out: b.attention.branch, inp: b.atty, C: C, OC: C, pass)
    }

    /// MLP(input) into the MLP site's branch: fc, activation, projection.
    private func mlp(_ b: BlockViews, layer l: Int, input: FloatPointer, _ pass: ForwardPass) {
        let C = config.width, N = pass.N
        linear(l, .fc, b.fc, out: b.fcOut, inp: input, C: C, OC: 4 * C, pass, observesOutput: false)
        timed(.activation) {
            activationForward(config.activation, out: b.act, inp: b.fcOut, N: N * 4 * C)
        }
        pass.observe(.linearOutput(layer: l, linear: .fc), b.act, cols: 4 * C)  // fc's output is after its activation
        linear(l, .mlpProj, b.mlpProj, out: b.mlp.branch, inp: b.act, C: 4 * C, OC: C, pass)
    }

    /// out = post(x + β·branch), the residual update after a sub-block; returns the new residual stream.
    @discardableResult
    private func addBranch(_ site: ResidualSite, layer l: Int, x: FloatPointer, _ pass: ForwardPass) -> FloatPointer {
        let count = pass.N * config.width
        if let post = site.postNorm {
            timed(.residual) { residualForward(out: site.sum, x: x, branch: site.branch, beta: 1, N: count) }
            normForward(post, inp: site.sum, N: pass.N)
        } else {
            timed(.residual) { residualForward(out: site.out, x: x, branch: site.branch, beta: site.weight, N: count) }
        }
        pass.observe(.residual(layer: l, index: site.index), site.out, cols: config.width)
        return site.out
    }

    /// The head's input: the final norm of the last tap where the config uses one, else the tap itself.
    private func finalNormed(_ pass: ForwardPass) -> FloatPointer {
        guard let norm = end.finalNorm else { return taps[config.layers] }
        normForward(norm, inp: taps[config.layers], N: pass.N)
        pass.observe(.finalNormOutput, norm.out, cols: config.width)
        return norm.out
    }

    /// A linear layer; with a transform, it reads a transformed copy of `inp` and its output is observed
    /// (unless `observesOutput` is off: fc's output is observed after the activation).
    private func linear(_ l: Int, _ kind: LinearLayer, _ weights: LinearWeights, out: FloatPointer, inp: FloatPointer,
                        C: Int, OC: Int, _ pass: ForwardPass, observesOutput: Bool = true) {
        var source = UnsafePointer(inp)
        if pass.transform != nil {
            let copy = end.linearInputCopy
            copy.update(from: inp, count: pass.N * C)
            pass.observe(.linearInput(layer: l, linear: kind), copy, cols: C)
            source = UnsafePointer(copy)
        }
        timed(.matmul) { matmulForward(out: out, inp: source, weight: weights.weight, N: pass.N, C: C, OC: OC) }
        if observesOutput { pass.observe(.linearOutput(layer: l, linear: kind), out, cols: OC) }
    }

    func normForward(_ norm: NormSite, inp: UnsafePointer<Float>, N: Int) {
        let C = config.width
        timed(.norm) {
            switch norm.kind {
            case .layerNorm:
                layerNormForward(out: norm.out, mean: norm.mean, rstd: norm.rstd, inp: inp, weight: norm.gain!, bias: norm.bias!, N: N, C: C)
            case .rmsNorm: rmsNormForward(out: norm.out, rms: norm.rstd, inp: inp, weight: norm.gain!, N: N, C: C)
            case .srmsNorm: srmsNormForward(out: norm.out, rstd: norm.rstd, inp: inp, N: N, C: C)
            }
        }
    }
}
