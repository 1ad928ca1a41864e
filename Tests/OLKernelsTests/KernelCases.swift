@testable import OLKernels

/// Builders of `KernelCase`s: each wraps one float32 forward/backward pair and its Double reference, so
/// the gradient tests and the determinism tests run exactly the same calls.
enum Cases {
    static func matmul(N: Int, C: Int, OC: Int, seed: UInt64) -> KernelCase {
        KernelCase(
            name: "matmul N=\(N) C=\(C) OC=\(OC)", inputNames: ["inp", "weight"],
            inputs: [randomFloats(N * C, seed: seed), randomFloats(OC * C, seed: seed + 1, std: 0.5)],
            forward: { x in
                var out = [Float](repeating: 0, count: N * OC)
                matmulForward(out: &out, inp: x[0], weight: x[1], N: N, C: C, OC: OC)
                return out
            },
            backward: { x, dout, initial in
                var (dinp, dweight) = (initial[0], initial[1])
                matmulBackward(dinp: &dinp, dweight: &dweight, dout: dout, inp: x[0], weight: x[1], N: N, C: C, OC: OC)
                return [dinp, dweight]
            },
            reference: { x in Reference.matmul(inp: x[0], weight: x[1], N: N, C: C, OC: OC) })
    }

    static func embedding(B: Int, T: Int, C: Int, V: Int, seed: UInt64) -> KernelCase {
        let tokens = randomTokens(B * T, V: V, seed: seed)
        return KernelCase(
            name: "embedding B=\(B) T=\(T) C=\(C) V=\(V)", inputNames: ["wte", "wpe"],
            inputs: [randomFloats(V * C, seed: seed), randomFloats(T * C, seed: seed + 1)],
            forward: { x in
                var out = [Float](repeating: 0, count: B * T * C)
                embeddingForward(out: &out, tokens: tokens, wte: x[0], wpe: x[1], B: B, T: T, C: C, V: V)
                return out
            },
            backward: { _, dout, initial in
                var (dwte, dwpe) = (initial[0], initial[1])
                embeddingBackward(dwte: &dwte, dwpe: &dwpe, dout: dout, tokens: tokens, B: B, T: T, C: C, V: V)
                return [dwte, dwpe]
            },
            reference: { x in Reference.embedding(tokens: tokens, wte: x[0], wpe: x[1], B: B, T: T, C: C) })
    }

    static func layerNorm(N: Int, C: Int, seed: UInt64) -> KernelCase {
        func run(_ x: [[Float]]) -> (out: [Float], mean: [Float], rstd: [Float]) {
            var out = [Float](repeating: 0, count: N * C)
            var mean = [Float](repeating: 0, count: N), rstd = mean
            layerNormForward(out: &out, mean: &mean, rstd: &rstd, inp: x[0], weight: x[1], bias: x[2], N: N, C: C)
            return (out, mean, rstd)
        }
        return KernelCase(
            name: "layerNorm N=\(N) C=\(C)", inputNames: ["inp", "weight", "bias"],
            inputs: [randomFloats(N * C, seed: seed, std: 2, mean: 0.5), randomFloats(C, seed: seed + 1, std: 0.3, mean: 1),
                     randomFloats(C, seed: seed + 2, std: 0.3)],
            forward: { run($0).out },
            backward: { x, dout, initial in
                let cache = run(x)
                var (dinp, dweight, dbias) = (initial[0], initial[1], initial[2])
                layerNormBackward(dinp: &dinp, dweight: &dweight, dbias: &dbias, dout: dout, inp: x[0], weight: x[1],
                                  mean: cache.mean, rstd: cache.rstd, N: N, C: C)
                return [dinp, dweight, dbias]
            },
            reference: { x in Reference.layerNorm(x: x[0], weight: x[1], bias: x[2], N: N, C: C).out })
    }

    static func rmsNorm(N: Int, C: Int, seed: UInt64) -> KernelCase {
        func run(_ x: [[Float]]) -> (out: [Float], rms: [Float]) {
            var out = [Float](repeating: 0, count: N * C), rms = [Float](repeating: 0, count: N)
            rmsNormForward(out: &out, rms: &rms, inp: x[0], weight: x[1], N: N, C: C)
            return (out, rms)
        }
        return KernelCase(
            name: "rmsNorm N=\(N) C=\(C)", inputNames: ["inp", "weight"],
            inputs: [randomFloats(N * C, seed: seed, std: 2, mean: 0.5), randomFloats(C, seed: seed + 1, std: 0.3, mean: 1)],
            forward: { run($0).out },
            backward: { x, dout, initial in
                let cache = run(x)
                var (dinp, dweight) = (initial[0], initial[1])
                rmsNormBackward(dinp: &dinp, dweight: &dweight, dout: dout, inp: x[0], weight: x[1], rms: cache.rms, N: N, C: C)
                return [dinp, dweight]
            },
            reference: { x in Reference.rmsNorm(x: x[0], weight: x[1], N: N, C: C) })
    }

    static func srmsNorm(N: Int, C: Int, seed: UInt64) -> KernelCase {
        func run(_ x: [[Float]]) -> (out: [Float], rstd: [Float]) {
            var out = [Float](repeating: 0, count: N * C), rstd = [Float](repeating: 0, count: N)
            srmsNormForward(out: &out, rstd: &rstd, inp: x[0], N: N, C: C)
            return (out, rstd)
        }
        return KernelCase(
            name: "srmsNorm N=\(N) C=\(C)", inputNames: ["inp"],
            inputs: [randomFloats(N * C, seed: seed, std: 2, mean: 0.5)],
            forward: { run($0).out },
            backward: { x, dout, initial in
                var dinp = initial[0]
                srmsNormBackward(dinp: &dinp, dout: dout, inp: x[0], rstd: run(x).rstd, N: N, C: C)
                return [dinp]
            },
            reference: { x in Reference.srmsNorm(x: x[0], N: N, C: C) })
    }

    static func activation(_ kind: Activation, N: Int, seed: UInt64) -> KernelCase {
        KernelCase(
            name: "\(kind) N=\(N)", inputNames: ["inp"],
            inputs: [randomFloats(N, seed: seed, std: 2)],
            forward: { x in
                var out = [Float](repeating: 0, count: N)
                activationForward(kind, out: &out, inp: x[0], N: N)
                return out
            },
            backward: { x, dout, initial in
                var dinp = initial[0]
                activationBackward(kind, dinp: &dinp, dout: dout, inp: x[0], N: N)
                return [dinp]
            },
            reference: { x in kind == .relu ? Reference.relu(x[0]) : Reference.gelu(x[0]) })
    }

    /// Attention with the options of `variant`. The tests use a soft-cap of 2 (not the model's 30) so that
    /// tanh is far from linear on O(1) logits and a missing soft-cap derivative shows.
    /// With `clip`, the softmax is clipped (Bondarenko et al. Eq. 4.1); `queryScale` multiplies the q
    /// columns of the inputs (a small one makes rows nearly uniform, to place u near a clip boundary).
    static func attention(B: Int, T: Int, C: Int, H: Int, variant: AttentionVariant, seed: UInt64,
                          qkvStd: Double = 1, clip: SoftmaxClip? = nil, queryScale: Float = 1) -> KernelCase {
        var options = variant.options
        options.clip = clip
        let hs = C / H
        func run(_ x: [[Float]]) -> (out: [Float], att: [Float], normed: [Float], rms: [Float], clipped: [Float]) {
            var out = [Float](repeating: 0, count: B * T * C)
            var att = [Float](repeating: .nan, count: B * H * T * T)
            var clipped = [Float](repeating: .nan, count: max(1, options.clippedCount(B: B, T: T, H: H)))
            var normed = [Float](repeating: 0, count: max(1, options.qkNormedCount(B: B, T: T, C: C)))
            var rms = [Float](repeating: 0, count: max(1, options.qkRmsCount(B: B, T: T, H: H)))
            let scales = options.qkNorm ? (x[1], x[2]) : ([Float(0)], [Float(0)])
            attentionForward(out: &out, att: &att, clipped: &clipped, qkNormed: &normed, qkRms: &rms, qkv: x[0],
                             qScale: scales.0, kScale: scales.1, B: B, T: T, C: C, H: H, options: options)
            return (out, att, normed, rms, clipped)
        }
        var qkv = randomFloats(B * T * 3 * C, seed: seed, std: qkvStd)
        for row in 0..<(B * T) { for c in 0..<C { qkv[row * 3 * C + c] *= queryScale } }
        return KernelCase(
            name: "attention \(variant)\(clip.map { " clipped ζ=\($0.zeta) γ=\($0.gamma)" } ?? "") B=\(B) T=\(T) C=\(C) H=\(H)",
            inputNames: options.qkNorm ? ["qkv", "qScale", "kScale"] : ["qkv"],
            inputs: [qkv]
                + (options.qkNorm ? [randomFloats(hs, seed: seed + 1, std: 0.3, mean: 1),
                                     randomFloats(hs, seed: seed + 2, std: 0.3, mean: 1)] : []),
            forward: { run($0).out },
            backward: { x, dout, initial in
                let cache = run(x)
                var dqkv = initial[0]
                var dq = options.qkNorm ? initial[1] : [0], dk = options.qkNorm ? initial[2] : [0]
                var scratch = [Float](repeating: .nan, count: options.backwardScratchCount(B: B, T: T, C: C, H: H))
                let scales = options.qkNorm ? (x[1], x[2]) : ([Float(0)], [Float(0)])
                attentionBackward(dqkv: &dqkv, dqScale: &dq, dkScale: &dk, scratch: &scratch, dout: dout, qkv: x[0],
                                  att: cache.att, clipped: cache.clipped, qkNormed: cache.normed, qkRms: cache.rms,
                                  qScale: scales.0, kScale: scales.1, B: B, T: T, C: C, H: H, options: options)
                return options.qkNorm ? [dqkv, dq, dk] : [dqkv]
            },
            reference: { x in
                Reference.attention(qkv: x[0], qScale: options.qkNorm ? x[1] : nil, kScale: options.qkNorm ? x[2] : nil,
                                    B: B, T: T, C: C, H: H, softCap: options.softCap.map(Double.init),
                                    clip: clip.map { (Double($0.zeta), Double($0.gamma)) }).out
            })
    }

    /// Gated attention's gate on y (the attention output) from x (the block's input), W_g and b_g. Bias
    /// std 1 spreads the gates over (0.2, 0.8) so that σ's curvature shows.
    static func attentionGate(N: Int, C: Int, H: Int, seed: UInt64) -> KernelCase {
        func run(_ x: [[Float]]) -> (out: [Float], gate: [Float]) {
            var out = [Float](repeating: 0, count: N * C), gate = [Float](repeating: .nan, count: N * H)
            attentionGateForward(out: &out, gate: &gate, inp: x[0], x: x[1], weight: x[2], bias: x[3], N: N, C: C, H: H)
            return (out, gate)
        }
        return KernelCase(
            name: "attentionGate N=\(N) C=\(C) H=\(H)", inputNames: ["y", "x", "weight", "bias"],
            inputs: [randomFloats(N * C, seed: seed), randomFloats(N * C, seed: seed + 1),
                     randomFloats(H * C, seed: seed + 2, std: 0.3), randomFloats(H, seed: seed + 3)],
            forward: { run($0).out },
            backward: { x, dout, initial in
                let cache = run(x)
                var (dy, dx, dweight, dbias) = (initial[0], initial[1], initial[2], initial[3])
                var scratch = [Float](repeating: .nan, count: N * H)
                attentionGateBackward(dinp: &dy, dx: &dx, dweight: &dweight, dbias: &dbias, scratch: &scratch, dout: dout,
                                      inp: x[0], x: x[1], weight: x[2], gate: cache.gate, N: N, C: C, H: H)
                return [dy, dx, dweight, dbias]
            },
            reference: { x in Reference.attentionGate(y: x[0], x: x[1], weight: x[2], bias: x[3], N: N, C: C, H: H) })
    }

    static func crossEntropy(N: Int, V: Int, seed: UInt64) -> KernelCase {
        let targets = randomTokens(N, V: V, seed: seed)
        func run(_ x: [[Float]]) -> (losses: [Float], probs: [Float]) {
            var losses = [Float](repeating: 0, count: N), probs = [Float](repeating: 0, count: N * V)
            crossEntropyForward(losses: &losses, probs: &probs, logits: x[0], targets: targets, N: N, V: V)
            return (losses, probs)
        }
        return KernelCase(
            name: "crossEntropy N=\(N) V=\(V)", inputNames: ["logits"],
            inputs: [randomFloats(N * V, seed: seed, std: 2)],
            forward: { run($0).losses },
            backward: { x, dlosses, initial in
                var dlogits = initial[0]
                crossEntropyBackward(dlogits: &dlogits, dlosses: dlosses, probs: run(x).probs, targets: targets, N: N, V: V)
                return [dlogits]
            },
            reference: { x in Reference.crossEntropy(logits: x[0], targets: targets, N: N, V: V).losses })
    }

    static func residual(N: Int, seed: UInt64) -> KernelCase {
        KernelCase(
            name: "residual N=\(N)", inputNames: ["x", "branch", "beta"],
            inputs: [randomFloats(N, seed: seed), randomFloats(N, seed: seed + 1), randomFloats(1, seed: seed + 2, std: 0.5)],
            forward: { x in
                var out = [Float](repeating: 0, count: N)
                residualForward(out: &out, x: x[0], branch: x[1], beta: x[2][0], N: N)
                return out
            },
            backward: { x, dout, initial in
                var (dx, dbranch, dbeta) = (initial[0], initial[1], initial[2])
                residualBackward(dx: &dx, dbranch: &dbranch, dbeta: &dbeta, dout: dout, branch: x[1], beta: x[2][0], N: N)
                return [dx, dbranch, dbeta]
            },
            reference: { x in Reference.residual(x: x[0], branch: x[1], beta: x[2][0]) })
    }
}

/// The four attention configurations the blocks use.
enum AttentionVariant: String, Sendable, CaseIterable, CustomStringConvertible {
    case plain, qkNorm, softCap, qkNormAndSoftCap

    var options: AttentionOptions {
        switch self {
        case .plain: AttentionOptions()
        case .qkNorm: AttentionOptions(qkNorm: true)
        case .softCap: AttentionOptions(softCap: 2)
        case .qkNormAndSoftCap: AttentionOptions(qkNorm: true, softCap: 2)
        }
    }
    var description: String { rawValue }
}
