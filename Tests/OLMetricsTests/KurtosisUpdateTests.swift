import Testing
import OLCore
import OLMetrics

@Suite("Kurtosis-update decomposition")
struct KurtosisUpdateTests {
    /// X and ΔX on the grid k/1024 with small integers k, so X + ΔX is exact in Float and the identities
    /// can be checked against the kurtosis of the stepped activations to Double rounding.
    func gridPair(rows n: Int, width d: Int, seed: UInt64, outlierScale: Float) -> (x: [Float], dx: [Float]) {
        var rng = RandomStream(seed: seed, purpose: "tests")
        func grid(_ bound: Int) -> Float { Float(rng.nextInt(below: 2 * bound + 1) - bound) / 1024 }
        var x = (0..<(n * d)).map { _ in grid(2000) }
        for row in 0..<n { x[row * d + 2] *= outlierScale }
        let dx = (0..<(n * d)).map { _ in grid(300) }
        return (x, dx)
    }

    /// mean_j s_j² and mean_j s_j⁴ computed directly.
    func moments(_ x: [Float], rows n: Int, width d: Int) -> (m2: Double, m4: Double) {
        var m2 = 0.0, m4 = 0.0
        for j in 0..<d {
            var s = 0.0
            for row in 0..<n { s += Double(x[row * d + j]) * Double(x[row * d + j]) }
            s /= Double(n)
            m2 += s
            m4 += s * s
        }
        return (m2 / Double(d), m4 / Double(d))
    }

    @Test(
        "mean s² and mean s⁴ after the step equal the old means plus the u-terms",
        arguments: [(UInt64(1), Float(1)), (2, 8), (3, 64)]
    )
    func exactIdentities(seed: UInt64, outlierScale: Float) {
        let (n, d) = (48, 20)
        let (x, dx) = gridPair(rows: n, width: d, seed: seed, outlierScale: outlierScale)
        let after = zip(x, dx).map { $0 + $1 }
        let terms = kurtosisUpdateTerms(activations: x, delta: dx, rows: n, width: d)
        let old = moments(x, rows: n, width: d), new = moments(after, rows: n, width: d)
        // Exact algebra; the only differences are Double summation rounding (~1e-16 relative per term).
        #expect(relativeError(old.m2 + terms.u21 + terms.u22, new.m2) < 1e-13)
        #expect(relativeError(old.m4 + terms.u41 + terms.u42 + terms.u43 + terms.u44, new.m4) < 1e-13)
        #expect(relativeError(terms.kurtosisAfter, kurtosis(after, rows: n, width: d)) < 1e-12)
        #expect(relativeError(terms.kurtosisBefore, kurtosis(x, rows: n, width: d)) < 1e-13)
    }

    @Test("for small ΔX the kurtosis change matches the first-order expansion, with an O(ε²) remainder")
    func firstOrderExpansion() {
        let (n, d) = (64, 16)
        var x = gaussianMatrix(rows: n, width: d, seed: 51)
        for row in 0..<n { x[row * d] *= 4 }
        let direction = gaussianMatrix(rows: n, width: d, seed: 52)
        func remainder(_ epsilon: Float) -> (change: Double, firstOrder: Double, remainder: Double) {
            let terms = kurtosisUpdateTerms(activations: x, delta: direction.map { $0 * epsilon }, rows: n, width: d)
            let change = terms.kurtosisAfter - terms.kurtosisBefore
            return (change, terms.firstOrderKurtosisChange, change - terms.firstOrderKurtosisChange)
        }
        // ΔKurt = (∂Kurt/∂M₄)u₄₁ + (∂Kurt/∂M₂)u₂₁ + O(ε²): halving ε quarters the remainder (up to O(ε) corrections).
        let big = remainder(1e-2), small = remainder(5e-3)
        #expect(big.remainder / small.remainder > 3.5 && big.remainder / small.remainder < 4.5)
        // At ε = 1e-3 the first-order term carries the change to within a few per cent.
        let tiny = remainder(1e-3)
        #expect(abs(tiny.remainder) < 0.05 * abs(tiny.change))
        #expect(abs(tiny.change) > 0)
    }

    @Test("terms from before/after activations equal the terms from X and an exact ΔX")
    func beforeAfterVariant() {
        let (x, dx) = gridPair(rows: 16, width: 12, seed: 7, outlierScale: 5)
        let after = zip(x, dx).map { $0 + $1 }
        #expect(kurtosisUpdateTerms(before: x, after: after, rows: 16, width: 12)
            == kurtosisUpdateTerms(activations: x, delta: dx, rows: 16, width: 12))
    }

    @Test("a zero update has zero terms and leaves the kurtosis unchanged")
    func zeroUpdate() {
        let x = gaussianMatrix(rows: 10, width: 6, seed: 53)
        let terms = kurtosisUpdateTerms(activations: x, delta: [Float](repeating: 0, count: 60), rows: 10, width: 6)
        #expect(terms.keyedTerms.allSatisfy { $0.value == 0 })
        #expect(terms.kurtosisAfter == terms.kurtosisBefore)
    }

    @Test("the accumulator sums the terms and its kurtosis change telescopes over steps")
    func accumulatorTelescopes() {
        let (n, d) = (32, 8)
        var states = [gaussianMatrix(rows: n, width: d, seed: 60)]
        for step in 1...3 {
            let noise = gaussianMatrix(rows: n, width: d, seed: 60 + UInt64(step), std: 0.3)
            states.append(zip(states[step - 1], noise).map { $0 + $1 })
        }
        var accumulator = KurtosisUpdateAccumulator()
        var u41 = 0.0
        for step in 1...3 {
            let terms = kurtosisUpdateTerms(before: states[step - 1], after: states[step], rows: n, width: d)
            accumulator.add(terms)
            u41 += terms.u41
        }
        #expect(accumulator.steps == 3)
        #expect(accumulator.u41 == u41)
        let total = kurtosis(states[3], rows: n, width: d) - kurtosis(states[0], rows: n, width: d)
        // Differences of Kurt values of order 1, each exact to ~1e-15: telescoping holds to 1e-12.
        #expect(abs(accumulator.kurtosisChange - total) < 1e-12)
        #expect(accumulator.keyedTotals.map(\.key).first == "cum_u21")
    }
}
