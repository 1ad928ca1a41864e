import Testing
import OLMetrics

/// Planted tensors whose diagnostics are known by hand. Every entry is a small integer or a power of two
/// times one, so each ratio and mean below is exact in Double or off by one rounding of a division.
@Suite("Where the outliers live (position split, attention mass on key 0, site peaks)")
struct PositionDiagnosticsTests {
    /// B = 2, T = 3, d = 4. Position-0 rows carry a massive activation in dimension 2; other rows do not.
    /// Row magnitudes (sorted) and their lower medians (index 1 of 4):
    ///   b0 t0: [1, 1, 1, 100] → max 100, median 1 → 100     b1 t0: [2, 2, 2, 50] → max 50, median 2 → 25
    ///   b0 t1: [1, 1, 2, 4]   → 4 / 1 = 4                     b1 t1: [1, 2, 2, 3]  → 3 / 2 = 1.5
    ///   b0 t2: [1, 1, 1, 1]   → 1                              b1 t2: [0, 0, 0, 0]  → all zero: 1
    static let planted: [Float] = [
        1, -1, 100, 1, /**/ 1, 2, -4, 1, /**/ 1, 1, -1, 1,
        2, 2, -50, -2, /**/ 3, -2, 2, 1, /**/ 0, 0, 0, 0,
    ]

    @Test("max |x| and max/median are split into position 0 and the other positions")
    func plantedSplit() {
        let split = PositionSplitMagnitudes(Self.planted, batch: 2, length: 3, width: 4)
        // Maxima are entries of the tensor: exact.
        #expect(split.maxAbsFirst == 100)
        #expect(split.maxAbsRest == 4)
        // (100 + 25) / 2 and (4 + 1 + 1.5 + 1) / 4: sums of exact ratios, one rounding at most (2⁻⁵² relative).
        #expect(abs(split.maxMedianFirst - 62.5) < 1e-12)
        #expect(abs(split.maxMedianRest - 1.875) < 1e-12)
    }

    @Test("rows whose median is zero are left out of the position means, as in the tap-wide MMR")
    func medianZeroRows() {
        // B = 1, T = 2, d = 3: position 0 is [0, 0, 5] (median 0, ratio +∞, left out), position 1 is [1, 2, 4]
        // (lower median 2, ratio 2). A group with only +∞ rows reads +∞, never a silent finite value.
        let split = PositionSplitMagnitudes([0, 0, 5, 1, 2, 4], batch: 1, length: 2, width: 3)
        #expect(split.maxMedianFirst == .infinity)
        #expect(split.maxMedianRest == 2)  // 4 / 2 is exact
        #expect(split.maxAbsFirst == 5)
    }

    @Test("a sequence of length one has no other positions: their values are NaN, written as null")
    func lengthOne() {
        let split = PositionSplitMagnitudes([3, -1, 1, 1], batch: 1, length: 1, width: 4)
        #expect(split.maxAbsRest.isNaN)
        #expect(split.maxMedianRest.isNaN)
        #expect(split.maxMedianFirst == 3)  // [1, 1, 1, 3]: 3 / 1
    }

    @Test("uniform causal attention puts mass 1/(i+1) on key 0 from query i; a sink head puts 1")
    func firstKeyMass() {
        // B = 1, H = 2, T = 4. Head 0 attends uniformly over its causal keys; head 1 sends every query to key 0.
        let T = 4
        var p = [Float](repeating: 0, count: 2 * T * T)
        for i in 0..<T {
            for j in 0...i { p[i * T + j] = 1 / Float(i + 1) }
            p[T * T + i * T] = 1
        }
        // Head 0: (1 + 1/2 + 1/3 + 1/4)/4 = 25/48; head 1: 1. Mean over heads and queries: (25/48 + 1)/2 = 73/96.
        // The Float entries 1/3 carry a relative rounding of 2⁻²⁴, so the mean is within 1e-7 of 73/96.
        #expect(abs(attentionMassOnFirstKey(p, batch: 1, heads: 2, length: T) - 73.0 / 96.0) < 1e-7)
    }

    @Test("the site peak is the largest row max/median, leaving out rows with median zero")
    func sitePeak() {
        // Rows of the planted tensor: ratios 100, 4, 1, 25, 1.5, 1 → peak 100 (exact: 100 / 1).
        #expect(peakMaxMedianRatio(Self.planted, rows: 6, width: 4) == 100)
        // A post-ReLU-like row [0, 0, 0, 9] has median 0 and is left out; [1, 2, 6, 3] gives 6 / 2 = 3.
        #expect(peakMaxMedianRatio([0, 0, 0, 9, 1, 2, 6, 3], rows: 2, width: 4) == 3)
        #expect(peakMaxMedianRatio([0, 0, 0, 9], rows: 1, width: 4) == .infinity)
    }
}
