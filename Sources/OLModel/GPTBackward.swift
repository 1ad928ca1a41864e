import OLCore
import OLKernels

extension GPT {
    /// Accumulates d(mean loss)/d(parameters) of the last forward pass into `gradients` (zero them first
    /// with `zeroGradients`). Frozen branch weights get no gradient.
    public func backward() {
        precondition(hasTargets, "backward needs a forward pass with targets")
        let B = batch, T = length, N = B * T, C = config.width, V = config.vocab
        // Only the buffers the first kernels accumulate into; every other scratch buffer is cleared
        // right before its first use (zeroing the whole scratch arena cost ~5 ms per step).
        clear(d.logits, N * V)
        clear(d.residual, N * C)
        if end.finalNorm != nil { clear(d.final, N * C) }
        for i in 0..<N { d.losses[i] = 1 / Float(N) }
        timed(.crossEntropy, backward: true) {
            crossEntropyBackward(dlogits: d.logits, dlosses: d.losses, probs: end.probs, targets: targets.baseAddress!, N: N, V: V)
        }
        let last = taps[config.layers]
        let final = end.finalNorm?.out ?? last
        let dfinal = end.finalNorm == nil ? d.residual : d.final
        timed(.matmul, backward: true) {
            matmulBackward(dinp: dfinal, dweight: end.head.gradient, dout: d.logits, inp: final, weight: end.head.weight, N: N, C: C, OC: V)
        }
        if let norm = end.finalNorm { normBackward(norm, dinp: d.residual, dout: d.final, inp: last, N: N) }
        // d.residual now holds ∂L/∂res[L]; walk the blocks backwards, through the MLP into d.mid and the
        // attention back into d.residual.
        for block in blocks.reversed() {
            subBlockBackward(block.mlp, x: block.attention.out, dx: d.mid, dout: d.residual, N: N) { dinp, inp in
                mlpBackward(block, dinp: dinp, inp: inp, N: N)
            }
            subBlockBackward(block.attention, x: block.input, dx: d.residual, dout: d.mid, N: N) { dinp, inp in
                attentionBackward(block, dinp: dinp, inp: inp, B: B, T: T)
            }
        }
        timed(.embedding, backward: true) {
            embeddingBackward(dwte: end.wte.gradient, dwpe: end.wpe.gradient, dout: d.residual, tokens: tokens.baseAddress!, B: B, T: T, C: C, V: V)
        }
    }

    /// Backward of out = post(x + β·branch(pre(x))): from dout = ∂L/∂out, overwrites dx with ∂L/∂x and
    /// accumulates the sub-block's parameter gradients. `branch(dinp, inp)` back-propagates d.branch
    /// through the branch and accumulates into dinp, given the branch's input inp.
    private func subBlockBackward(_ site: ResidualSite, x: FloatPointer, dx: FloatPointer, dout: FloatPointer, N: Int,
                                  branch: (_ dinp: FloatPointer, _ inp: FloatPointer) -> Void) {
        let C = config.width
        residualBackward(site, dx: dx, dout: dout, x: x, N: N)   // the first writer of dx and d.branch
        guard let norm = site.preNorm else { return branch(dx, x) }
        clear(d.normed, N * C)
        branch(d.normed, norm.out)
        normBackward(norm, dinp: dx, dout: d.normed, inp: x, N: N)
    }

    /// Backward of `addBranch`: dx += ∂L/∂x, d.branch += ∂L/∂branch (and β's or the post-norm's
    /// parameter gradients), from dout = ∂L/∂(its output).
    private func residualBackward(_ site: ResidualSite, dx: FloatPointer, dout: FloatPointer, x: FloatPointer, N: Int) {
        let count = N * config.width
        if let post = site.postNorm {
            clear(d.sum, count)
            normBackward(post, dinp: d.sum, dout: dout, inp: site.sum, N: N)
            timed(.residual, backward: true) {
                OLKernels.residualBackward(dx: dx, dbranch: d.branch, dbeta: nil, dout: d.sum, branch: site.branch, beta: 1, N: count, accumulate: false)
            }
        } else {
            timed(.residual, backward: true) {
                OLKernels.residualBackward(dx: dx, dbranch: d.branch, dbeta: site.dbeta, dout: dout, branch: site.branch, beta: site.weight, N: count, accumulate: false)
            }
        }
    }

    /// d.branch → dinp through the MLP (projection, activation, fc).
    private func mlpBackward(_ b: BlockViews, dinp: FloatPointer, inp: FloatPointer, N: Int) {
        let C = config.width
        // d.act is written whole by its first kernel (no clear pass before it); the activation's backward
        // turns it into d.fc in place.
        timed(.matmul, backward: true) {
            matmulBackward(dinp: d.act, dweight: b.mlpProj.gradient, dout: d.branch, inp: b.act, weight: b.mlpProj.weight, N: N, C: 4 * C, OC: C,
                           accumulateInput: false)
        }
        timed(.activation, backward: true) {
            activationBackward(config.activation, dinp: d.fc, dout: d.act, inp: b.fcOut, N: N * 4 * C, accumulate: false)
        }
        timed(.matmul, backward: true) {
            matmulBackward(dinp: dinp, dweight: b.fc.gradient, dout: d.fc, inp: inp, weight: b.fc.weight, N: N, C: C, OC: 4 * C)
        }
    }

    /// d.branch → dinp through attention (projection, any gate, attention with any QK-Norm or clip, qkv).
    private func attentionBackward(_ b: BlockViews, dinp: FloatPointer, inp: FloatPointer, B: Int, T: Int) {
        let N = B * T, C = config.width, H = config.heads
        timed(.matmul, backward: true) {
            matmulBackward(dinp: d.atty, dweight: b.attnProj.gradient, dout: d.branch, inp: b.atty, weight: b.attnProj.weight, N: N, C: C, OC: C,
                           accumulateInput: false)
        }
        var dattention = UnsafePointer(d.atty)
        if let gate = b.gate, let draw = d.attyRaw, let dlogits = d.gateLogits {
            clear(draw, N * C)
            timed(.attention, backward: true) {
                attentionGateBackward(dinp: draw, dx: dinp, dweight: gate.dweight, dbias: gate.dbias, scratch: dlogits, dout: d.atty,
                                      inp: gate.raw, x: inp, weight: gate.weight, gate: gate.pi, N: N, C: C, H: H)
            }
            dattention = UnsafePointer(draw)
        }
        clear(d.qkv, N * 3 * C)
        timed(.attention, backward: true) {
            OLKernels.attentionBackward(
                dqkv: d.qkv, dqScale: b.dqScale, dkScale: b.dkScale, scratch: d.attention, dout: dattention, qkv: b.qkvOut, att: b.att,
                clipped: b.attClipped, qkNormed: b.qkNormed, qkRms: b.qkRms, qScale: b.qScale, kScale: b.kScale, B: B, T: T, C: C, H: H,
                options: attentionOptions)
        }
        timed(.matmul, backward: true) {
            matmulBackward(dinp: dinp, dweight: b.qkv.gradient, dout: d.qkv, inp: inp, weight: b.qkv.weight, N: N, C: C, OC: 3 * C)
        }
    }

    func normBackward(_ norm: NormSite, dinp: FloatPointer, dout: UnsafePointer<Float>, inp: UnsafePointer<Float>, N: Int) {
        let C = config.width
        timed(.norm, backward: true) {
            switch norm.kind {
            case .layerNorm:
                layerNormBackward(dinp: dinp, dweight: norm.dgain!, dbias: norm.dbias!, dout: dout, inp: inp,
                                  weight: norm.gain!, mean: norm.mean, rstd: norm.rstd, N: N, C: C)
            case .rmsNorm:
                rmsNormBackward(dinp: dinp, dweight: norm.dgain!, dout: dout, inp: inp, weight: norm.gain!, rms: norm.rstd, N: N, C: C)
            case .srmsNorm:
                srmsNormBackward(dinp: dinp, dout: dout, inp: inp, rstd: norm.rstd, N: N, C: C)
            }
        }
    }
}
