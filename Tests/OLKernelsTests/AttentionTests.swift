import OLTestSupport
import Testing
@testable import OLKernels

@Suite("Causal self-attention")
struct AttentionTests {
    @Test("output matches the reference; dqkv (and dg_q, dg_k with QK-norm) match finite differences",
          arguments: SequenceShape.attention, AttentionVariant.allCases)
    func attentionMatchesReference(shape: SequenceShape, variant: AttentionVariant) {
        check(Cases.attention(B: shape.B, T: shape.T, C: shape.C, H: shape.H, variant: variant,
                              seed: UInt64(shape.T * 100 + shape.C)))
    }

    @Test("large logits: soft-capping and QK-norm keep gradients correct where the softmax saturates",
          arguments: [AttentionVariant.softCap, .qkNormAndSoftCap])
    func saturatedLogits(variant: AttentionVariant) {
        // qkv std 4 makes raw logits O(10), far into tanh's flat part for cap 2.
        check(Cases.attention(B: 1, T: 9, C: 16, H: 2, variant: variant, seed: 77, qkvStd: 4))
    }

    @Test("cached probabilities match the reference, are exactly zero above the diagonal and rows sum to 1",
          arguments: AttentionVariant.allCases)
    func probabilitiesAreCausal(variant: AttentionVariant) {
        let (B, T, C, H) = (2, 9, 12, 3)
        let kernel = Cases.attention(B: B, T: T, C: C, H: H, variant: variant, seed: 5)
        let options = variant.options
        var out = [Float](repeating: 0, count: B * T * C), att = [Float](repeating: .nan, count: B * H * T * T)
        var normed = [Float](repeating: 0, count: max(1, options.qkNormedCount(B: B, T: T, C: C)))
        var rms = [Float](repeating: 0, count: max(1, options.qkRmsCount(B: B, T: T, H: H)))
        let x = kernel.inputs
        attentionForward(out: &out, att: &att, qkNormed: &normed, qkRms: &rms, qkv: x[0],
                         qScale: options.qkNorm ? x[1] : nil, kScale: options.qkNorm ? x[2] : nil,
                         B: B, T: T, C: C, H: H, options: options)
        let expected = Reference.attention(qkv: x[0].map(Double.init), qScale: options.qkNorm ? x[1].map(Double.init) : nil,
                                           kScale: options.qkNorm ? x[2].map(Double.init) : nil, B: B, T: T, C: C, H: H,
                                           softCap: options.softCap.map(Double.init))
        expectClose(att, expected.probs, .forward, "probabilities")
        for row in 0..<(B * H * T) {
            let i = row % T
            #expect(att[(row * T + i + 1) ..< (row + 1) * T].allSatisfy { $0 == 0 }, "row \(row) attends to the future")
            let sum = att[row * T ... row * T + i].reduce(0.0) { $0 + Double($1) }
            // ≤ 9 float32 probabilities: the sum is 1 within 9·6e-8.
            #expect(abs(sum - 1) < 1e-6, "row \(row) sums to \(sum)")
        }
    }

    @Test("with T = 1 each position attends only to itself, so the output is v exactly")
    func singlePositionCopiesValue() {
        let (C, H) = (6, 2)
        let qkv = randomFloats(3 * C, seed: 12)
        var out = [Float](repeating: 0, count: C), att: [Float] = [0, 0]
        attentionForward(out: &out, att: &att, qkNormed: nil, qkRms: nil, qkv: qkv, qScale: nil, kScale: nil,
                         B: 1, T: 1, C: C, H: H)
        #expect(att == [1, 1])
        #expect(out == Array(qkv[(2 * C)...]))
    }

    @Test("QK-norm scales are shared across heads: identical heads give identical probabilities")
    func qkNormScalesAreShared() {
        // With identical inputs in every head, heads must produce identical outputs, which holds only if
        // each head reads the same g_q and g_k (not a per-head slice of a longer vector).
        let (T, C, H) = (4, 8, 2), hs = C / H
        let head = randomFloats(T * 3 * hs, seed: 21)
        var qkv = [Float](repeating: 0, count: T * 3 * C)
        for t in 0..<T { for part in 0..<3 { for h in 0..<H { for d in 0..<hs {
            qkv[t * 3 * C + part * C + h * hs + d] = head[(t * 3 + part) * hs + d]
        } } } }
        let options = AttentionOptions(qkNorm: true)
        var out = [Float](repeating: 0, count: T * C), att = [Float](repeating: 0, count: H * T * T)
        var normed = [Float](repeating: 0, count: T * 2 * C), rms = [Float](repeating: 0, count: T * 2 * H)
        attentionForward(out: &out, att: &att, qkNormed: &normed, qkRms: &rms, qkv: qkv,
                         qScale: randomFloats(hs, seed: 22, mean: 1), kScale: randomFloats(hs, seed: 23, mean: 1),
                         B: 1, T: T, C: C, H: H, options: options)
        expectBitwiseEqual(Array(att[0 ..< T * T]), Array(att[T * T ..< 2 * T * T]), "attention of the two identical sequences")
    }

    @Test("scratch and cache sizes follow the options")
    func scratchSizes() {
        let (B, T, C, H) = (2, 5, 12, 3)
        #expect(AttentionOptions().backwardScratchCount(B: B, T: T, C: C, H: H) == B * H * T * T)
        #expect(AttentionOptions(softCap: 30).backwardScratchCount(B: B, T: T, C: C, H: H) == 2 * B * H * T * T)
        #expect(AttentionOptions(qkNorm: true, softCap: 30).backwardScratchCount(B: B, T: T, C: C, H: H)
                == 2 * B * H * T * T + B * T * 2 * C)
        // Past one query block (32 rows) the backward keeps one block of dS per head, not all T rows.
        #expect(AttentionOptions().backwardScratchCount(B: B, T: 128, C: C, H: H) == B * H * 32 * 128)
        #expect(AttentionOptions().qkRmsCount(B: B, T: T, H: H) == 0)
        #expect(AttentionOptions(qkNorm: true).qkRmsCount(B: B, T: T, H: H) == B * T * 2 * H)
    }
}
