import Foundation
import Testing
@testable import OLKernels

/// Records every row the kernel hands out (under a lock: heads run concurrently), optionally rewriting
/// each probability row to attend to key 0 only.
private final class RowRecorder: AttentionTransform, @unchecked Sendable {
    let attendToFirstKey: Bool
    private let lock = NSLock()
    private(set) var scoreRows: [[Int]: [Float]] = [:]
    private(set) var probabilityRows: [[Int]: [Float]] = [:]
    private(set) var queriesAndKeys: [(values: [Float], rows: Int, cols: Int)] = []

    init(attendToFirstKey: Bool = false) { self.attendToFirstKey = attendToFirstKey }

    func normalisedQueriesAndKeys(_ values: UnsafeMutableBufferPointer<Float>, rows: Int, cols: Int) {
        lock.withLock { queriesAndKeys.append((Array(values), rows, cols)) }
    }
    func scores(_ row: UnsafeMutableBufferPointer<Float>, head: Int, query: Int) {
        lock.withLock { scoreRows[[head, query]] = Array(row) }
    }
    func probabilities(_ row: UnsafeMutableBufferPointer<Float>, head: Int, query: Int) {
        if attendToFirstKey {
            row.update(repeating: 0)
            row[0] = 1
        }
        lock.withLock { probabilityRows[[head, query]] = Array(row) }
    }
}

@Suite("Attention transform hook")
struct AttentionTransformTests {
    static let (B, T, C, H) = (2, 9, 12, 3)

    /// Runs the kernel on seeded inputs; returns (out, att, qkNormed).
    static func run(_ variant: AttentionVariant, transform: AttentionTransform?) -> ([Float], [Float], [Float]) {
        let kernel = Cases.attention(B: B, T: T, C: C, H: H, variant: variant, seed: 5)
        let options = variant.options
        var out = [Float](repeating: 0, count: B * T * C), att = [Float](repeating: 0, count: B * H * T * T)
        var normed = [Float](repeating: 0, count: max(1, options.qkNormedCount(B: B, T: T, C: C)))
        var rms = [Float](repeating: 0, count: max(1, options.qkRmsCount(B: B, T: T, H: H)))
        let x = kernel.inputs
        attentionForward(out: &out, att: &att, qkNormed: &normed, qkRms: &rms, qkv: x[0],
                         qScale: options.qkNorm ? x[1] : nil, kScale: options.qkNorm ? x[2] : nil,
                         B: B, T: T, C: C, H: H, options: options, transform: transform)
        return (out, att, normed)
    }

    static func firstDifference(_ a: [Float], _ b: [Float]) -> Int? {
        a.count != b.count ? min(a.count, b.count) : a.indices.first { a[$0].bitPattern != b[$0].bitPattern }
    }

    @Test("a transform that rewrites nothing leaves the output and probabilities bitwise unchanged", arguments: AttentionVariant.allCases)
    func observingChangesNothing(variant: AttentionVariant) {
        let plain = Self.run(variant, transform: nil), observed = Self.run(variant, transform: RowRecorder())
        #expect(Self.firstDifference(plain.0, observed.0) == nil, "out")
        #expect(Self.firstDifference(plain.1, observed.1) == nil, "att")
    }

    @Test("the transform sees every causal row: the softmax of its scores is its probabilities, which the cache keeps",
          arguments: AttentionVariant.allCases)
    func seesEveryCausalRow(variant: AttentionVariant) throws {
        let recorder = RowRecorder()
        let (_, att, normed) = Self.run(variant, transform: recorder)
        #expect(recorder.scoreRows.count == Self.B * Self.H * Self.T && recorder.probabilityRows.count == Self.B * Self.H * Self.T)
        for head in 0..<(Self.B * Self.H) {
            for query in 0..<Self.T {
                let scores = try #require(recorder.scoreRows[[head, query]]), probabilities = try #require(recorder.probabilityRows[[head, query]])
                #expect(scores.count == query + 1 && probabilities.count == query + 1)
                let cached = Array(att[(head * Self.T + query) * Self.T ... (head * Self.T + query) * Self.T + query])
                #expect(Self.firstDifference(probabilities, cached) == nil, "head \(head) query \(query)")
                let top = scores.map(Double.init).max()!
                let weights = scores.map { exp(Double($0) - top) }, total = weights.reduce(0, +)
                // float32 softmax against Double: ≤ 9 terms, a few ulps of 1.
                for (p, w) in zip(probabilities, weights) { #expect(abs(Double(p) - w / total) <= 1e-6) }
                if let cap = variant.options.softCap { #expect(scores.allSatisfy { abs($0) <= cap }, "scores are taken after the cap") }
            }
        }
        let expectedCalls = variant.options.qkNorm ? 1 : 0
        #expect(recorder.queriesAndKeys.count == expectedCalls)
        if let call = recorder.queriesAndKeys.first {
            #expect(call.rows == Self.B * Self.T && call.cols == 2 * Self.C)
            #expect(Self.firstDifference(call.values, normed) == nil, "the hook sees the qkNormed cache")
        }
    }

    @Test("rewritten probabilities are the ones multiplied by v: attending to key 0 copies v at position 0",
          arguments: AttentionVariant.allCases)
    func rewrittenProbabilitiesReachTheOutput(variant: AttentionVariant) {
        let (B, T, C, H) = (Self.B, Self.T, Self.C, Self.H)
        let qkv = Cases.attention(B: B, T: T, C: C, H: H, variant: variant, seed: 5).inputs[0]
        let (out, _, _) = Self.run(variant, transform: RowRecorder(attendToFirstKey: true))
        var mismatches = 0
        for b in 0..<B {
            for t in 0..<T {
                for c in 0..<C where out[(b * T + t) * C + c].bitPattern != qkv[b * T * 3 * C + 2 * C + c].bitPattern {
                    mismatches += 1
                }
            }
        }
        // P one-hot on key 0: out = 1·v₀ + Σ 0·v_j, exact in float32.
        #expect(mismatches == 0)
    }
}
