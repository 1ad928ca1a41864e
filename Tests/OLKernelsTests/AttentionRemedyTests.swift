import Testing
@testable import OLKernels

/// Bondarenko et al.'s two attention remedies: the clipped softmax (Eq. 4.1) inside the attention
/// kernel, and the per-head gate of gated attention (§4.2) as its own kernel. Forward against Double
/// references, every gradient against Float64 central differences (`check`, tolerances in KernelChecking.swift).
@Suite("Attention remedies: clipped softmax and gated attention")
struct AttentionRemedyTests {
    /// γ and ζ far enough from 0 and 1 that many entries are clipped at both ends on random logits.
    static let wideClip = SoftmaxClip(zeta: 1.1, gamma: -0.1)

    /// The attention shapes up to T = 37: the longest (T = 70) has ~5000 clipped-softmax entries, enough
    /// that one may fall within a finite-difference step of a kink, where central differences are wrong.
    static let shapes = SequenceShape.attention.filter { $0.T < 40 }

    @Test("the clipped softmax's output and dqkv match the reference and finite differences",
          arguments: shapes, [AttentionVariant.plain, .qkNorm, .softCap])
    func clippedSoftmaxMatchesReference(shape: SequenceShape, variant: AttentionVariant) {
        // qkv std 2: logits O(4), so probabilities spread over (0, 1) and both clip ends are active.
        check(Cases.attention(B: shape.B, T: shape.T, C: shape.C, H: shape.H, variant: variant,
                              seed: UInt64(shape.T * 100 + shape.C + 5), qkvStd: 2, clip: Self.wideClip))
    }

    @Test("Bondarenko et al.'s parametrisation γ = −α/T with ζ = 1 matches the reference and finite differences")
    func paperParametrisation() {
        // α = 2 at T = 9: γ = −0.222, so rows longer than ~5 keys clip their smallest probabilities to 0.
        check(Cases.attention(B: 2, T: 9, C: 12, H: 3, variant: .plain, seed: 31, qkvStd: 2,
                              clip: SoftmaxClip(alpha: 2, length: 9)))
    }

    /// A near-boundary case: with q ≈ 0 every row is nearly uniform, p ≈ 1/n, and γ, ζ put
    /// u = (ζ − γ)/n + γ exactly on a clip boundary for rows of `keys` entries, so their entries sit a few
    /// 1e-3 on either side of it (q's scale 0.02 moves p by ~2 %), while a finite-difference step (1e-6)
    /// moves u by ~1e-7: the numerical gradient sees each entry's own side of the kink.
    struct BoundaryCase: Sendable, CustomTestStringConvertible {
        var name: String, clip: SoftmaxClip, T: Int, keys: Int, boundary: Float
        var testDescription: String { name }
        static let all = [
            // n = 5: u = 1.25·0.2 − 0.25 = 0 (lower end).
            BoundaryCase(name: "lower end u = 0", clip: SoftmaxClip(zeta: 1, gamma: -0.25), T: 6, keys: 5, boundary: 0),
            // n = 2: u = 2·0.5 + 0 = 1 (upper end).
            BoundaryCase(name: "upper end u = 1", clip: SoftmaxClip(zeta: 2, gamma: 0), T: 3, keys: 2, boundary: 1),
        ]
    }

    @Test("gradients match finite differences at points just inside and just outside each clip boundary",
          arguments: BoundaryCase.all)
    func gradientsNearClipBoundaries(boundary: BoundaryCase) throws {
        let (B, T, C, H) = (2, boundary.T, 8, 2)
        let kernel = Cases.attention(B: B, T: T, C: C, H: H, variant: .plain, seed: 41, clip: boundary.clip, queryScale: 0.02)
        // The case must really straddle the boundary: entries of the rows with `keys` keys on both sides.
        var att = [Float](repeating: 0, count: B * H * T * T), clipped = att, out = [Float](repeating: 0, count: B * T * C)
        attentionForward(out: &out, att: &att, clipped: &clipped, qkNormed: nil, qkRms: nil, qkv: kernel.inputs[0],
                         qScale: nil, kScale: nil, B: B, T: T, C: C, H: H, options: AttentionOptions(clip: boundary.clip))
        let i = boundary.keys - 1
        let u = (0..<(B * H)).flatMap { bh in (0...i).map { j in boundary.clip.stretch * att[(bh * T + i) * T + j] + boundary.clip.gamma } }
        let offsets = u.map { $0 - boundary.boundary }
        #expect(offsets.contains { $0 < 0 } && offsets.contains { $0 > 0 }, "entries on both sides: \(offsets)")
        // Every entry within 0.05 of the kink, and none within 1e-5 (where a 1e-6 step could cross it).
        #expect(offsets.allSatisfy { abs($0) < 0.05 && abs($0) > 1e-5 }, "offsets \(offsets)")
        check(kernel)
    }

    @Test("at a kink (u exactly 0 or 1) the backward passes the inside derivative ζ − γ; outside it passes 0")
    func derivativeAtTheKink() {
        // ζ − γ = 2 and γ = −0.5 are exact, and so is u = 2p − 0.5 for these p: 0, (about −0.3), 0.75, 1, 1.5.
        let clip = SoftmaxClip(zeta: 1.5, gamma: -0.5)
        let p: [Float] = [0.25, 0.1, 0.625, 0.75, 1]
        var d: [Float] = [1, 1, 1, 1, 1]
        var forward = [Float](repeating: .nan, count: 5)
        clip.apply(p, into: &forward, count: 5)
        // Exact arithmetic on exactly representable values, so equality is the right check.
        #expect(forward == [0, 0, 0.75, 1, 1])
        clip.backward(&d, probs: p, count: 5)
        #expect(d == [2, 0, 2, 2, 0])
    }

    @Test("ζ = 1 and γ = 0 leave the plain softmax's output bitwise unchanged")
    func identityClipIsPlainSoftmax() {
        let (B, T, C, H) = (2, 9, 12, 3)
        let plain = Cases.attention(B: B, T: T, C: C, H: H, variant: .plain, seed: 5)
        let identity = Cases.attention(B: B, T: T, C: C, H: H, variant: .plain, seed: 5, clip: SoftmaxClip(zeta: 1, gamma: 0))
        let a = plain.forward(plain.inputs), b = identity.forward(identity.inputs)
        // u = 1·p + 0 = p exactly, and min(max(p, 0), 1) = p for p in [0, 1].
        #expect(a.indices.first { a[$0].bitPattern != b[$0].bitPattern } == nil)
    }

    @Test("gated attention's output and its four gradients match the reference and finite differences",
          arguments: [(1, 4, 1), (7, 12, 3), (33, 16, 4)])
    func gateMatchesReference(N: Int, C: Int, H: Int) {
        check(Cases.attentionGate(N: N, C: C, H: H, seed: UInt64(N * 100 + C)))
    }

    @Test("the gate keeps σ of each head's logit, and a head whose logit is very negative is switched off")
    func gateCacheAndClosedHead() {
        let (N, C, H) = (3, 4, 2)
        let y = randomFloats(N * C, seed: 3), x = randomFloats(N * C, seed: 4)
        let weight = [Float](repeating: 0, count: H * C), bias: [Float] = [-200, 0]
        var out = [Float](repeating: .nan, count: N * C), gate = [Float](repeating: .nan, count: N * H)
        attentionGateForward(out: &out, gate: &gate, inp: y, x: x, weight: weight, bias: bias, N: N, C: C, H: H)
        for n in 0..<N {
            // σ(−200) underflows to exactly 0 and σ(0) is exactly 0.5 in float32.
            #expect(gate[n * H] == 0 && gate[n * H + 1] == 0.5)
            #expect(out[n * C ..< n * C + 2].allSatisfy { $0 == 0 }, "head 0 is off")
            #expect(out[n * C + 2] == 0.5 * y[n * C + 2] && out[n * C + 3] == 0.5 * y[n * C + 3])
        }
    }
}
