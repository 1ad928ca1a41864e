import OLCore
import OLGoldens
import Testing
@testable import OLKernels

/// Kernel goldens (`Goldens/kernels/`): every forward and backward on seeded inputs at two shapes, one of
/// them odd. Each file is self-contained for an independent re-check (NumPy, PyTorch):
///   input.<x>        inputs and parameters (F32; tokens and targets I64)
///   input.dout       the upstream gradient of the primary output (N(0, 1))
///   output.<y>       forward outputs, including what the forward caches for the backward
///   grad.<x>         gradients of the inputs for that upstream gradient, accumulated onto zeros
@Suite("kernel goldens")
struct KernelGoldenTests {
    @Test("kernel forward and backward match the accepted golden", arguments: KernelGolden.all)
    func matchesGolden(_ golden: KernelGolden) throws {
        try Goldens.check(golden.make())
    }
}

/// How a kernel tensor is compared, by the arithmetic that produced it.
///
/// The budget must hold under the changes we expect without a behaviour change: a reordered or SIMD
/// summation in our own kernels, FMA contraction, and another BLAS kernel (OpenBLAS picks one per CPU).
/// Against the Double references in KernelChecking.swift, float32 forwards err by ≤ 6e-7 relative and
/// backwards by < 1e-5 relative / 1e-6 absolute; two float32 implementations differ by at most the sum
/// of their errors, so each budget below is ≥ 10× what a reordering can move while still catching a
/// wrong formula (which moves values by ≥ 1e-3 relative).
enum KernelTolerance {
    /// Inputs are regenerated from the seed: a changed generator must show, so they are bitwise.
    static let input = CompareMode.exact
    /// No reduction, or one of ≤ ~33 terms per value (activations, residual, embedding, norms,
    /// softmax/cross-entropy): ≤ √33·ε ≈ 3.5e-7 relative from reordering.
    static let elementwise = CompareMode.allclose(rtol: 1e-5, atol: 1e-6)
    /// Parameter gradients summed over all rows (dweight, dbias, dbeta, dg_q/dg_k): more terms that cancel,
    /// so the absolute error scales with Σ|terms| ≈ N·O(1), not with the (possibly small) result.
    static let rowSum = CompareMode.allclose(rtol: 1e-5, atol: 1e-5)
    /// Anything that goes through sgemm (matmul, attention): BLAS kernels block K differently and may or
    /// may not use FMA, so a dot product of K ≤ 33 terms of size ~1 moves by up to K·ε·Σ|aᵢbᵢ| ≈ 1e-5
    /// when the result cancels; rtol 1e-4 / atol 1e-5 covers that with margin. Measured: recording under
    /// other OpenBLAS cores (OPENBLAS_CORETYPE=Haswell, Sandybridge, Prescott against Cooperlake, set on
    /// the command line for the measurement only) moves these by ≤ 1.4e-6 absolute, 7× inside atol, and
    /// leaves every non-BLAS kernel bitwise unchanged.
    static let sgemm = CompareMode.allclose(rtol: 1e-4, atol: 1e-5)
}

/// One kernel golden: a name (its file name) and how to compute the case.
struct KernelGolden: Sendable, CustomTestStringConvertible {
    var name: String
    var make: @Sendable () -> GoldenCase
    var testDescription: String { name }

    static let all: [KernelGolden] =
        [(3, 5, 7), (9, 33, 17)].map { matmul(N: $0.0, C: $0.1, OC: $0.2) }
        + [(2, 3, 5, 4), (3, 9, 7, 5)].map { embedding(B: $0.0, T: $0.1, C: $0.2, V: $0.3) }
        + [(3, 7), (9, 33)].flatMap { [layerNorm(N: $0.0, C: $0.1), rmsNorm(N: $0.0, C: $0.1), srmsNorm(N: $0.0, C: $0.1)] }
        + [layerNorm(N: 9, C: 33, inputScale: 1e-3), rmsNorm(N: 9, C: 33, inputScale: 1e-3)]
        + [7, 64].flatMap { [activation(.relu, N: $0), activation(.gelu, N: $0)] }
        + [7, 33].map { residual(N: $0) }
        + [(3, 7), (5, 256)].map { crossEntropy(N: $0.0, V: $0.1) }
        + [(2, 3, 6, 2), (2, 9, 33, 3)].flatMap { shape in
            AttentionVariant.allCases.map { attention(B: shape.0, T: shape.1, C: shape.2, H: shape.3, variant: $0) }
        }
        // Bondarenko et al.'s remedies: γ = −2/9 and ζ = 1.1 clip probabilities at both ends on these logits.
        + [attention(B: 2, T: 9, C: 33, H: 3, variant: .plain, clip: SoftmaxClip(zeta: 1.1, alpha: 2, length: 9))]
        + [attentionGate(N: 9, C: 33, H: 3)]
}

/// Collects a kernel case's tensors in file order: inputs, upstream gradient, outputs, gradients.
struct KernelRecord {
    var tensors: [GoldenTensor] = []

    mutating func input(_ name: String, _ shape: [Int], _ values: [Float]) {
        tensors.append(GoldenTensor(NamedTensor(name: "input.\(name)", shape: shape, floats: values), compare: KernelTolerance.input))
    }

    mutating func input(_ name: String, _ shape: [Int], tokens: [Int32]) {
        tensors.append(GoldenTensor(NamedTensor(name: "input.\(name)", shape: shape, values: .int64(tokens.map(Int64.init))),
                                    compare: KernelTolerance.input))
    }

    mutating func output(_ name: String, _ shape: [Int], _ values: [Float], _ compare: CompareMode) {
        tensors.append(GoldenTensor(NamedTensor(name: "output.\(name)", shape: shape, floats: values), compare: compare))
    }

    mutating func gradient(_ name: String, _ shape: [Int], _ values: [Float], _ compare: CompareMode) {
        tensors.append(GoldenTensor(NamedTensor(name: "grad.\(name)", shape: shape, floats: values), compare: compare))
    }

    func goldenCase(_ name: String, kernel: String, sizes: [(String, Int)], seed: UInt64, extra: [JSONMember] = []) -> GoldenCase {
        let config = JSONValue.object([JSONMember("kernel", .string(kernel))] + sizes.map { JSONMember($0.0, .int(Int64($0.1))) } + extra)
        return GoldenCase(suite: "kernels", name: name, kind: "kernel", config: config, seed: seed, tensors: tensors)
    }
}

private func zeros(_ count: Int) -> [Float] { [Float](repeating: 0, count: count) }

extension KernelGolden {
    static func matmul(N: Int, C: Int, OC: Int) -> KernelGolden {
        let name = "matmul_N\(N)_C\(C)_OC\(OC)"
        return KernelGolden(name: name) {
            let seed = UInt64(N * 10_000 + C * 100 + OC)
            let inp = randomFloats(N * C, seed: seed), weight = randomFloats(OC * C, seed: seed + 1, std: 0.5)
            let dout = randomFloats(N * OC, seed: seed + 2)
            var out = zeros(N * OC), dinp = zeros(N * C), dweight = zeros(OC * C)
            matmulForward(out: &out, inp: inp, weight: weight, N: N, C: C, OC: OC)
            matmulBackward(dinp: &dinp, dweight: &dweight, dout: dout, inp: inp, weight: weight, N: N, C: C, OC: OC)
            var record = KernelRecord()
            record.input("inp", [N, C], inp)
            record.input("weight", [OC, C], weight)
            record.input("dout", [N, OC], dout)
            record.output("out", [N, OC], out, KernelTolerance.sgemm)
            record.gradient("inp", [N, C], dinp, KernelTolerance.sgemm)
            record.gradient("weight", [OC, C], dweight, KernelTolerance.sgemm)
            return record.goldenCase(name, kernel: "matmul", sizes: [("N", N), ("C", C), ("OC", OC)], seed: seed)
        }
    }

    /// V smaller than B·T, so tokens repeat and the scatter in the backward sums several rows.
    static func embedding(B: Int, T: Int, C: Int, V: Int) -> KernelGolden {
        let name = "embedding_B\(B)_T\(T)_C\(C)_V\(V)"
        return KernelGolden(name: name) {
            let seed = UInt64(B * 1_000_000 + T * 10_000 + C * 100 + V)
            let tokens = randomTokens(B * T, V: V, seed: seed)
            let wte = randomFloats(V * C, seed: seed + 1), wpe = randomFloats(T * C, seed: seed + 2)
            let dout = randomFloats(B * T * C, seed: seed + 3)
            var out = zeros(B * T * C), dwte = zeros(V * C), dwpe = zeros(T * C)
            embeddingForward(out: &out, tokens: tokens, wte: wte, wpe: wpe, B: B, T: T, C: C, V: V)
            embeddingBackward(dwte: &dwte, dwpe: &dwpe, dout: dout, tokens: tokens, B: B, T: T, C: C, V: V)
            var record = KernelRecord()
            record.input("tokens", [B, T], tokens: tokens)
            record.input("wte", [V, C], wte)
            record.input("wpe", [T, C], wpe)
            record.input("dout", [B, T, C], dout)
            record.output("out", [B, T, C], out, KernelTolerance.elementwise)
            record.gradient("wte", [V, C], dwte, KernelTolerance.rowSum)
            record.gradient("wpe", [T, C], dwpe, KernelTolerance.rowSum)
            return record.goldenCase(name, kernel: "embedding", sizes: [("B", B), ("T", T), ("C", C), ("V", V)], seed: seed)
        }
    }

    /// Inputs with mean 0.5 and std 2, weights around 1 and biases around 0, so no term is trivially 0 or 1.
    /// `inputScale` 1e-3 (the `_small` goldens) makes the variance (≈ 4e-6) comparable with ε = 1e-5,
    /// so ε's value and its place inside the root move the outputs by percents, not by 1e-6.
    static func layerNorm(N: Int, C: Int, inputScale: Float = 1) -> KernelGolden {
        let name = "layerNorm_\(inputScale == 1 ? "" : "small_")N\(N)_C\(C)"
        return KernelGolden(name: name) {
            let seed = UInt64(1_000 + N * 100 + C)
            let inp = randomFloats(N * C, seed: seed, std: 2 * Double(inputScale), mean: 0.5 * Double(inputScale))
            let weight = randomFloats(C, seed: seed + 1, std: 0.3, mean: 1), bias = randomFloats(C, seed: seed + 2, std: 0.3)
            let dout = randomFloats(N * C, seed: seed + 3)
            var out = zeros(N * C), mean = zeros(N), rstd = zeros(N)
            var dinp = zeros(N * C), dweight = zeros(C), dbias = zeros(C)
            layerNormForward(out: &out, mean: &mean, rstd: &rstd, inp: inp, weight: weight, bias: bias, N: N, C: C)
            layerNormBackward(dinp: &dinp, dweight: &dweight, dbias: &dbias, dout: dout, inp: inp, weight: weight,
                              mean: mean, rstd: rstd, N: N, C: C)
            var record = KernelRecord()
            record.input("inp", [N, C], inp)
            record.input("weight", [C], weight)
            record.input("bias", [C], bias)
            record.input("dout", [N, C], dout)
            record.output("out", [N, C], out, KernelTolerance.elementwise)
            record.output("mean", [N], mean, KernelTolerance.elementwise)
            record.output("rstd", [N], rstd, KernelTolerance.elementwise)
            record.gradient("inp", [N, C], dinp, KernelTolerance.elementwise)
            record.gradient("weight", [C], dweight, KernelTolerance.rowSum)
            record.gradient("bias", [C], dbias, KernelTolerance.rowSum)
            return record.goldenCase(name, kernel: "layerNorm", sizes: [("N", N), ("C", C)], seed: seed, extra: [JSONMember("eps", .shortest(layerNormEpsilon))])
        }
    }

    /// `inputScale` 1e-3 (the `_small` goldens): rms ≈ 2e-3, so ε = 1e-5 is 0.5 % of it and a tenfold
    /// change of ε, or ε under the root, moves the outputs by ≥ 0.4 %, hundreds of times their budget.
    static func rmsNorm(N: Int, C: Int, inputScale: Float = 1) -> KernelGolden {
        let name = "rmsNorm_\(inputScale == 1 ? "" : "small_")N\(N)_C\(C)"
        return KernelGolden(name: name) {
            let seed = UInt64(2_000 + N * 100 + C)
            let inp = randomFloats(N * C, seed: seed, std: 2 * Double(inputScale), mean: 0.5 * Double(inputScale)), weight = randomFloats(C, seed: seed + 1, std: 0.3, mean: 1)
            let dout = randomFloats(N * C, seed: seed + 3)
            var out = zeros(N * C), rms = zeros(N), dinp = zeros(N * C), dweight = zeros(C)
            rmsNormForward(out: &out, rms: &rms, inp: inp, weight: weight, N: N, C: C)
            rmsNormBackward(dinp: &dinp, dweight: &dweight, dout: dout, inp: inp, weight: weight, rms: rms, N: N, C: C)
            var record = KernelRecord()
            record.input("inp", [N, C], inp)
            record.input("weight", [C], weight)
            record.input("dout", [N, C], dout)
            record.output("out", [N, C], out, KernelTolerance.elementwise)
            record.output("rms", [N], rms, KernelTolerance.elementwise)
            record.gradient("inp", [N, C], dinp, KernelTolerance.elementwise)
            record.gradient("weight", [C], dweight, KernelTolerance.rowSum)
            return record.goldenCase(name, kernel: "rmsNorm", sizes: [("N", N), ("C", C)], seed: seed, extra: [JSONMember("eps", .shortest(rmsNormEpsilon))])
        }
    }

    static func srmsNorm(N: Int, C: Int) -> KernelGolden {
        let name = "srmsNorm_N\(N)_C\(C)"
        return KernelGolden(name: name) {
            let seed = UInt64(3_000 + N * 100 + C)
            let inp = randomFloats(N * C, seed: seed, std: 2, mean: 0.5), dout = randomFloats(N * C, seed: seed + 3)
            var out = zeros(N * C), rstd = zeros(N), dinp = zeros(N * C)
            srmsNormForward(out: &out, rstd: &rstd, inp: inp, N: N, C: C)
            srmsNormBackward(dinp: &dinp, dout: dout, inp: inp, rstd: rstd, N: N, C: C)
            var record = KernelRecord()
            record.input("inp", [N, C], inp)
            record.input("dout", [N, C], dout)
            record.output("out", [N, C], out, KernelTolerance.elementwise)
            record.output("rstd", [N], rstd, KernelTolerance.elementwise)
            record.gradient("inp", [N, C], dinp, KernelTolerance.elementwise)
            return record.goldenCase(name, kernel: "srmsNorm", sizes: [("N", N), ("C", C)], seed: seed)
        }
    }

    /// Inputs with std 2 so both branches of ReLU and the curved part of GELU are exercised.
    static func activation(_ kind: Activation, N: Int) -> KernelGolden {
        let name = "\(kind)_N\(N)"
        return KernelGolden(name: name) {
            let seed = UInt64(4_000 + N * 10 + (kind == .relu ? 0 : 1))
            let inp = randomFloats(N, seed: seed, std: 2), dout = randomFloats(N, seed: seed + 3)
            var out = zeros(N), dinp = zeros(N)
            activationForward(kind, out: &out, inp: inp, N: N)
            activationBackward(kind, dinp: &dinp, dout: dout, inp: inp, N: N)
            var record = KernelRecord()
            record.input("inp", [N], inp)
            record.input("dout", [N], dout)
            record.output("out", [N], out, KernelTolerance.elementwise)
            record.gradient("inp", [N], dinp, KernelTolerance.elementwise)
            let constants = kind == .gelu ? [JSONMember("gelu_coefficient", .shortest(geluCubicCoefficient))] : []
            return record.goldenCase(name, kernel: kind.rawValue, sizes: [("N", N)], seed: seed, extra: constants)
        }
    }

    static func residual(N: Int) -> KernelGolden {
        let name = "residual_N\(N)"
        return KernelGolden(name: name) {
            let seed = UInt64(5_000 + N)
            let x = randomFloats(N, seed: seed), branch = randomFloats(N, seed: seed + 1)
            let beta = randomFloats(1, seed: seed + 2, std: 0.5), dout = randomFloats(N, seed: seed + 3)
            var out = zeros(N), dx = zeros(N), dbranch = zeros(N), dbeta = zeros(1)
            residualForward(out: &out, x: x, branch: branch, beta: beta[0], N: N)
            residualBackward(dx: &dx, dbranch: &dbranch, dbeta: &dbeta, dout: dout, branch: branch, beta: beta[0], N: N)
            var record = KernelRecord()
            record.input("x", [N], x)
            record.input("branch", [N], branch)
            record.input("beta", [], beta)
            record.input("dout", [N], dout)
            record.output("out", [N], out, KernelTolerance.elementwise)
            record.gradient("x", [N], dx, KernelTolerance.elementwise)
            record.gradient("branch", [N], dbranch, KernelTolerance.elementwise)
            record.gradient("beta", [], dbeta, KernelTolerance.rowSum)
            return record.goldenCase(name, kernel: "residual", sizes: [("N", N)], seed: seed)
        }
    }

    /// Logits with std 2; `input.dout` is the upstream gradient of the per-token losses.
    static func crossEntropy(N: Int, V: Int) -> KernelGolden {
        let name = "crossEntropy_N\(N)_V\(V)"
        return KernelGolden(name: name) {
            let seed = UInt64(6_000 + N * 1_000 + V)
            let targets = randomTokens(N, V: V, seed: seed), logits = randomFloats(N * V, seed: seed + 1, std: 2)
            let dlosses = randomFloats(N, seed: seed + 3)
            var losses = zeros(N), probs = zeros(N * V), dlogits = zeros(N * V)
            crossEntropyForward(losses: &losses, probs: &probs, logits: logits, targets: targets, N: N, V: V)
            crossEntropyBackward(dlogits: &dlogits, dlosses: dlosses, probs: probs, targets: targets, N: N, V: V)
            var record = KernelRecord()
            record.input("targets", [N], tokens: targets)
            record.input("logits", [N, V], logits)
            record.input("dout", [N], dlosses)
            record.output("losses", [N], losses, KernelTolerance.elementwise)
            record.output("probs", [N, V], probs, KernelTolerance.elementwise)
            record.gradient("logits", [N, V], dlogits, KernelTolerance.elementwise)
            return record.goldenCase(name, kernel: "crossEntropy", sizes: [("N", N), ("V", V)], seed: seed)
        }
    }

    /// Every attention variant the blocks use. The soft-cap is 2 (not the model's 30), as in the unit
    /// tests, so that tanh is far from linear on O(1) logits and the cap visibly changes the values.
    /// With `clip`, the clipped softmax (`output.clipped`: what multiplies v; `output.att` stays the softmax).
    static func attention(B: Int, T: Int, C: Int, H: Int, variant: AttentionVariant, clip: SoftmaxClip? = nil) -> KernelGolden {
        let name = "attention_\(variant)\(clip == nil ? "" : "_clipped")_B\(B)_T\(T)_C\(C)_H\(H)"
        return KernelGolden(name: name) {
            var options = variant.options
            options.clip = clip
            let hs = C / H
            let seed = UInt64(7_000_000 + B * 100_000 + T * 1_000 + C * 10 + H)
            let qkv = randomFloats(B * T * 3 * C, seed: seed), dout = randomFloats(B * T * C, seed: seed + 3)
            let qScale = options.qkNorm ? randomFloats(hs, seed: seed + 1, std: 0.3, mean: 1) : [0]
            let kScale = options.qkNorm ? randomFloats(hs, seed: seed + 2, std: 0.3, mean: 1) : [0]
            let normedCount = options.qkNormedCount(B: B, T: T, C: C), rmsCount = options.qkRmsCount(B: B, T: T, H: H)
            var out = zeros(B * T * C), att = zeros(B * H * T * T)
            var normed = zeros(max(1, normedCount)), rms = zeros(max(1, rmsCount))
            var clipped = zeros(max(1, options.clippedCount(B: B, T: T, H: H)))
            attentionForward(out: &out, att: &att, clipped: &clipped, qkNormed: &normed, qkRms: &rms, qkv: qkv, qScale: qScale, kScale: kScale,
                             B: B, T: T, C: C, H: H, options: options)
            var dqkv = zeros(B * T * 3 * C), dqScale = zeros(qScale.count), dkScale = zeros(kScale.count)
            var scratch = zeros(options.backwardScratchCount(B: B, T: T, C: C, H: H))
            attentionBackward(dqkv: &dqkv, dqScale: &dqScale, dkScale: &dkScale, scratch: &scratch, dout: dout, qkv: qkv,
                              att: att, clipped: clipped, qkNormed: normed, qkRms: rms, qScale: qScale, kScale: kScale,
                              B: B, T: T, C: C, H: H, options: options)
            var record = KernelRecord()
            record.input("qkv", [B, T, 3 * C], qkv)
            if options.qkNorm {
                record.input("q_scale", [hs], qScale)
                record.input("k_scale", [hs], kScale)
            }
            record.input("dout", [B, T, C], dout)
            record.output("out", [B, T, C], out, KernelTolerance.sgemm)
            record.output("att", [B, H, T, T], att, KernelTolerance.sgemm)
            if clip != nil { record.output("clipped", [B, H, T, T], clipped, KernelTolerance.sgemm) }
            if options.qkNorm {
                record.output("qk_normed", [B, T, 2 * C], normed, KernelTolerance.elementwise)
                record.output("qk_rms", [B, T, 2 * H], rms, KernelTolerance.elementwise)
            }
            record.gradient("qkv", [B, T, 3 * C], dqkv, KernelTolerance.sgemm)
            if options.qkNorm {
                record.gradient("q_scale", [hs], dqScale, KernelTolerance.sgemm)
                record.gradient("k_scale", [hs], dkScale, KernelTolerance.sgemm)
            }
            var extra = [JSONMember("qk_norm", .bool(options.qkNorm))]
            if options.qkNorm { extra.append(JSONMember("qk_norm_eps", .double(Double(options.qkNormEps)))) }
            if let cap = options.softCap { extra.append(JSONMember("soft_cap", .double(Double(cap)))) }
            if let clip {
                extra.append(JSONMember("clipped_softmax", .object([
                    JSONMember("zeta", .shortest(clip.zeta)), JSONMember("gamma", .shortest(clip.gamma)),
                ])))
            }
            return record.goldenCase(name, kernel: "attention", sizes: [("B", B), ("T", T), ("C", C), ("H", H)], seed: seed, extra: extra)
        }
    }

    /// Gated attention's gate (Bondarenko et al. §4.2): y the attention output, x the block's input, W_g
    /// with std 0.3 and b_g with std 1, so the gates spread over (0.1, 0.9).
    static func attentionGate(N: Int, C: Int, H: Int) -> KernelGolden {
        let name = "attentionGate_N\(N)_C\(C)_H\(H)"
        return KernelGolden(name: name) {
            let seed = UInt64(8_000 + N * 100 + C + H)
            let y = randomFloats(N * C, seed: seed), x = randomFloats(N * C, seed: seed + 1)
            let weight = randomFloats(H * C, seed: seed + 2, std: 0.3), bias = randomFloats(H, seed: seed + 4)
            let dout = randomFloats(N * C, seed: seed + 3)
            var out = zeros(N * C), gate = zeros(N * H)
            var dy = zeros(N * C), dx = zeros(N * C), dweight = zeros(H * C), dbias = zeros(H), scratch = zeros(N * H)
            attentionGateForward(out: &out, gate: &gate, inp: y, x: x, weight: weight, bias: bias, N: N, C: C, H: H)
            attentionGateBackward(dinp: &dy, dx: &dx, dweight: &dweight, dbias: &dbias, scratch: &scratch, dout: dout,
                                  inp: y, x: x, weight: weight, gate: gate, N: N, C: C, H: H)
            var record = KernelRecord()
            record.input("y", [N, C], y)
            record.input("x", [N, C], x)
            record.input("weight", [H, C], weight)
            record.input("bias", [H], bias)
            record.input("dout", [N, C], dout)
            // The logit is a dot product of C terms plus libm's expf: one reduction, elementwise budget.
            record.output("out", [N, C], out, KernelTolerance.elementwise)
            record.output("gate", [N, H], gate, KernelTolerance.elementwise)
            record.gradient("y", [N, C], dy, KernelTolerance.elementwise)
            record.gradient("x", [N, C], dx, KernelTolerance.elementwise)
            record.gradient("weight", [H, C], dweight, KernelTolerance.rowSum)
            record.gradient("bias", [H], dbias, KernelTolerance.rowSum)
            return record.goldenCase(name, kernel: "attentionGate", sizes: [("N", N), ("C", C), ("H", H)], seed: seed)
        }
    }
}
