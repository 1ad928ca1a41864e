import OLCore
import Testing
@testable import OLOptimizers

@Suite("Global gradient-norm clipping")
struct GradientClippingTests {
    /// Sizes around the 16 lanes and the 32 K-element chunks: empty, one lane's tail, whole chunks,
    /// a chunk and a tail, and several chunks with a ragged end.
    static let sizes = [0, 1, 15, 17, GradientNorm.chunk, GradientNorm.chunk + 5, 3 * GradientNorm.chunk + 4_321]

    @Test("the squared norm is the exact sum of squares to 1e-14 relative", arguments: sizes)
    func squaredSumMatchesAnExactSum(count: Int) {
        var stream = RandomStream(seed: 7, purpose: "tests")
        var values = [Float](repeating: 0, count: count)
        values.withUnsafeMutableBufferPointer { stream.fillNormal($0, std: 3) }
        // Each square of a Float is exact in Double, so the only error is the adds': a Kahan-compensated
        // sum is exact to ~1e-16 here, and n adds of positive terms in any order err by at most n·ε
        // relative in the worst case; 1e-14 is ~70× the worst case's typical size at these lengths.
        var (exact, compensation) = (0.0, 0.0)
        for v in values {
            let y = Double(v) * Double(v) - compensation
            let t = exact + y
            compensation = (t - exact) - y
            exact = t
        }
        let sum = values.withUnsafeBufferPointer { GradientNorm.squaredSum($0) }
        #expect(abs(sum - exact) <= 1e-14 * exact, "sum \(sum), exact \(exact)")
        if count == 0 { #expect(sum == 0) }
    }

    @Test("the squared norm has the same bits on one, two and three workers")
    func squaredSumIgnoresTheWorkerCount() {
        var stream = RandomStream(seed: 8, purpose: "tests")
        var values = [Float](repeating: 0, count: 5 * GradientNorm.chunk + 77)
        values.withUnsafeMutableBufferPointer { stream.fillNormal($0, std: 1e-3) }
        let sums = [1, 2, 3].map { workers in
            Parallel.withWorkers(workers) { values.withUnsafeBufferPointer { GradientNorm.squaredSum($0) } }
        }
        #expect(sums.allSatisfy { $0.bitPattern == sums[0].bitPattern }, "\(sums.map(\.bitPattern))")
    }

    @Test("one lane's chain and the lane order decide the bits, as documented")
    func squaredSumFollowsItsDocumentedOrder() {
        // Values whose squares differ wildly in size make any other order of adds give other bits.
        let values: [Float] = (0..<40).map { i in Float(i % 3 == 0 ? 1e6 : 1e-3) * Float(i + 1) }
        var lanes = [Double](repeating: 0, count: 16)
        for (i, v) in values.enumerated() { lanes[i % 16] += Double(v) * Double(v) }
        var expected = 0.0
        for lane in lanes { expected += lane }
        let sum = values.withUnsafeBufferPointer { GradientNorm.squaredSum($0) }
        #expect(sum.bitPattern == expected.bitPattern, "sum \(sum), documented order \(expected)")
    }

    @Test("clipping scales every gradient by maxNorm/norm above the threshold and leaves it alone below")
    func clippingScalesAboveTheThreshold() {
        let layout = ArenaLayout([TensorSpec(name: "w", shape: [300, 301], role: .matrix), TensorSpec(name: "b", shape: [7], role: .vector)])
        let gradients = FloatArena(layout: layout)
        var stream = RandomStream(seed: 9, purpose: "tests")
        stream.fillNormal(gradients.storage, std: 0.1)
        let before = Array(gradients.storage)
        let norm = clipGlobalNorm(gradients, maxNorm: 1)
        let exact = before.reduce(0.0) { $0 + Double($1) * Double($1) }.squareRoot()
        #expect(abs(norm - exact) <= 1e-12 * exact, "returned norm \(norm), exact \(exact)")
        #expect(norm > 1, "the case must clip: norm \(norm)")
        let scale = Float(1 / norm)
        let firstWrong = before.indices.first { before[$0] * scale != gradients.storage[$0] }
        #expect(firstWrong == nil, "first element not scaled by maxNorm/norm: \(firstWrong ?? -1)")

        let unclipped = Array(gradients.storage)
        _ = clipGlobalNorm(gradients, maxNorm: 10)
        #expect(zip(unclipped, gradients.storage).allSatisfy { $0.bitPattern == $1.bitPattern }, "below the threshold nothing changes")
    }
}
