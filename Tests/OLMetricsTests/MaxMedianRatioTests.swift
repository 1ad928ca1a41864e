import OLTestSupport
import Testing
import OLMetrics

@Suite("Max-Median Ratio")
struct MaxMedianRatioTests {
    @Test("a row of constant magnitude has ratio exactly 1", arguments: [Float(1), 0.3, 250])
    func constantMagnitude(c: Float) {
        let x = signMatrix(rows: 10, width: 17, seed: 4).map { $0 * c }
        #expect(maxMedianRatio(x, rows: 10, width: 17) == 1)
    }

    @Test("uses the lower median for even width, checked by hand")
    func lowerMedianByHand() {
        // |row 0| sorted: 0.5, 1, 2, 3 → lower median 1 (index 1), max 3 → 3.
        // |row 1| sorted: 1, 2, 4, 8 → lower median 2, max 8 → 4.
        let x: [Float] = [3, -1, 2, 0.5, -8, 4, 1, -2]
        #expect(maxMedianRatioPerRow(x, rows: 2, width: 4) == [3, 4])
        #expect(maxMedianRatio(x, rows: 2, width: 4) == 3.5)
    }

    @Test("uses the middle element for odd width, checked by hand")
    func oddWidthByHand() {
        // |row| sorted: 1, 2, 3, 4, 10 → median 3, max 10.
        let x: [Float] = [10, -3, 1, 4, -2]
        #expect(maxMedianRatioPerRow(x, rows: 1, width: 5) == [10.0 / 3.0])
    }

    @Test("an all-zero row counts as 1 and a row with zero median is left out of the mean")
    func zeroMedianRows() {
        // Row 0: all zero → 1. Row 1: median 0, max 5 → +∞, excluded. Row 2: 1,1,2,4 → lower median 1, max 4.
        let x: [Float] = [0, 0, 0, 0, 0, 0, 5, 0, 1, -1, 2, 4]
        let rows = maxMedianRatioPerRow(x, rows: 3, width: 4)
        #expect(rows[0] == 1 && rows[1] == .infinity && rows[2] == 4)
        #expect(maxMedianRatio(x, rows: 3, width: 4) == 2.5)
        #expect(maxMedianRatio([0, 0, 3, 0, 0, 7], rows: 2, width: 3) == .infinity)
    }

    @Test("a planted outlier feature raises the ratio roughly by its scale")
    func outlierFeatureRaisesRatio() {
        let (n, d) = (64, 128)
        var x = gaussianMatrix(rows: n, width: d, seed: 8)
        let plain = maxMedianRatio(x, rows: n, width: d)
        for row in 0..<n { x[row * d + 9] = 100 * (row % 2 == 0 ? 1 : -1) }
        // Gaussian rows: max|z| ≈ 2.5–3.5 over median|z| ≈ 0.67, so ratio ≈ 4–6; with the outlier ≈ 100/0.67.
        #expect(plain > 2 && plain < 8)
        #expect(maxMedianRatio(x, rows: n, width: d) > 100)
    }

    @Test("per-row ratios equal a sort-based reference, including rows with many tied magnitudes", arguments: [1, 2, 5, 64, 255, 256])
    func matchesSortReference(width d: Int) {
        let n = 40
        // Rounding to quarters creates many ties, which exercise the selection's partitioning.
        let x = gaussianMatrix(rows: n, width: d, seed: UInt64(d)).map { ($0 * 4).rounded() / 4 + 0.25 }
        let expected = (0..<n).map { row -> Double in
            let sorted = x[(row * d)..<((row + 1) * d)].map { abs($0) }.sorted()
            let median = Double(sorted[(d - 1) / 2]), maximum = Double(sorted[d - 1])
            return maximum == 0 ? 1 : (median == 0 ? .infinity : maximum / median)
        }
        expectBitwiseEqual(maxMedianRatioPerRow(x, rows: n, width: d), expected, "per-row ratios against the sort reference")
    }

    @Test("the centred ratio of a row of d − 1 equal values and one raised value is d − 1, whatever the level",
          arguments: [(Float(3), Float(2)), (-1, 0.5), (100, 7)])
    func centredRatioClosedForm(level: Float, raise: Float) {
        // Row [a, …, a, a + c] (d entries): its mean is a + c/d, so the centred magnitudes are c/d (d − 1 times)
        // and c(d − 1)/d, a ratio of d − 1. The raw ratio max(|a|, |a + c|)/|a| depends on the level; centring
        // removes it. Inputs are exact in float32 and the arithmetic is Double: rtol 1e-12.
        let d = 9
        let row = [Float](repeating: level, count: d - 1) + [level + raise]
        let x = row + row.map { 2 * $0 }
        let centred = maxMedianRatioPerRow(x, rows: 2, width: d, centringRows: true)
        for ratio in centred { #expect(abs(ratio - Double(d - 1)) <= 1e-12 * Double(d - 1)) }
        #expect(abs(maxMedianRatio(x, rows: 2, width: d, centringRows: true) - Double(d - 1)) <= 1e-12 * Double(d - 1))
        let raw = Double(max(abs(level), abs(level + raise))) / Double(abs(level))
        #expect(abs(maxMedianRatioPerRow(x, rows: 2, width: d)[0] - raw) <= 1e-12 * raw)
    }

    @Test("the centred ratio is finite for post-ReLU rows whose raw ratio is left out as infinite")
    func centringMovesZeroMedians() {
        // [0, 0, 0, 4]: raw median 0 → +∞; centred [−1, −1, −1, 3] → lower median 1, max 3.
        let x: [Float] = [0, 0, 0, 4]
        #expect(maxMedianRatioPerRow(x, rows: 1, width: 4) == [.infinity])
        #expect(maxMedianRatioPerRow(x, rows: 1, width: 4, centringRows: true) == [3])
    }
}
