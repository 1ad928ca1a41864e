import Testing
import OLMetrics

@Suite("Kurtosis (paper Eq. 1)")
struct KurtosisTests {
    @Test(
        "i.i.d. Gaussian activations give kurtosis 1 + 2/n within a 5σ bound from n and d",
        arguments: [(256, 64), (2048, 256), (512, 512), (1024, 32)]
    )
    func gaussianKurtosis(rows n: Int, width d: Int) {
        let x = gaussianMatrix(rows: n, width: d, seed: UInt64(n * 7 + d))
        // Kurt − 1 = Var_j(s_j²)/mean_j(s_j²)² (biased variance over j). s_j² ~ χ²_n/n has variance 2/n, so
        // E[Kurt − 1] ≈ (2/n)(1 − 1/d), and for nearly Gaussian s_j² the biased sample variance of d values
        // has standard deviation ≈ (2/n)√(2/d). Fluctuations of mean s² (relative √(2/(nd))) are far smaller.
        let expected = 1 + 2 / Double(n)
        let bias = 2 / Double(n) / Double(d)
        let sigma = 2 / Double(n) * (2 / Double(d)).squareRoot()
        #expect(abs(kurtosis(x, rows: n, width: d) - expected) < bias + 5 * sigma)
    }

    @Test("neurons with equal RMS give kurtosis exactly 1 up to rounding", arguments: [Float(1), 0.125, 3, 1000])
    func equalRMSNeurons(scale: Float) {
        let x = signMatrix(rows: 64, width: 48, seed: 3).map { $0 * scale }
        // Every s_j² is the same Double value, so m4/m2² is 1 up to a few ulps of the means.
        #expect(abs(kurtosis(x, rows: 64, width: 48) - 1) < 1e-14)
    }

    @Test(
        "one outlier neuron of RMS r among d − 1 of RMS 1 gives d(r⁴ + d − 1)/(r² + d − 1)²",
        arguments: [(Float(1), 16), (2, 16), (10, 64), (100, 64), (30, 256)]
    )
    func singleOutlierNeuron(r: Float, width d: Int) {
        let x = signMatrix(rows: 32, width: d, seed: 5, outlier: 3, r: r)
        let r2 = Double(r) * Double(r), dd = Double(d)
        let expected = dd * (r2 * r2 + dd - 1) / ((r2 + dd - 1) * (r2 + dd - 1))
        // Inputs are exact (±1, ±r); only Double summation rounding remains.
        #expect(relativeError(kurtosis(x, rows: 32, width: d), expected) < 1e-13)
    }

    @Test("one neuron carrying all the energy reaches the upper bound d")
    func upperBound() {
        let d = 40
        let x = signMatrix(rows: 16, width: d, seed: 9).enumerated().map { $0.offset % d == 7 ? $0.element : 0 }
        #expect(relativeError(kurtosis(x, rows: 16, width: d), Double(d)) < 1e-14)
    }

    @Test("kurtosis is invariant to scaling the activations", arguments: [Float(0.001), 7, 1024])
    func scaleInvariance(c: Float) {
        var x = gaussianMatrix(rows: 128, width: 32, seed: 11)
        for row in 0..<128 { x[row * 32 + 5] *= 4 }  // an outlier neuron makes Kurt ≈ 4, so the check is not trivial
        let reference = kurtosis(x, rows: 128, width: 32)
        let scaled = kurtosis(x.map { $0 * c }, rows: 128, width: 32)
        // Scaling by c rounds each Float (relative ≤ 2⁻²⁴); Kurt is a ratio of 4th powers, so ≤ ~8·2⁻²⁴.
        #expect(relativeError(scaled, reference) < 1e-6)
        #expect(reference > 3)
    }

    @Test("an all-zero tap has kurtosis 1 by definition")
    func allZero() {
        #expect(kurtosis([Float](repeating: 0, count: 60), rows: 6, width: 10) == 1)
    }
}

@Suite("Centred kurtosis (official logger form)")
struct KurtosisCentredTests {
    /// Outlier-heavy data whose rows have exactly zero mean: each row is (v, −v).
    func zeroMeanRows(rows n: Int, half: Int, seed: UInt64) -> [Float] {
        let v = gaussianMatrix(rows: n, width: half, seed: seed)
        var x = [Float]()
        for row in 0..<n {
            var part = Array(v[(row * half)..<((row + 1) * half)])
            part[0] *= 12
            x += part + part.map { -$0 }
        }
        return x
    }

    @Test("equals d/(d − 1)·(Kurt(f) − 1) for the centred, normalised features f", arguments: [UInt64(1), 2, 3])
    func exactRelation(seed: UInt64) {
        let (n, d) = (96, 24)
        var x = gaussianMatrix(rows: n, width: d, seed: seed)
        for row in 0..<n { x[row * d] += 5; x[row * d + 1] += Float(row % 7) }  // non-zero row means
        let f = widthCentredNormalised(x, rows: n, width: d)
        let expected = Double(d) / Double(d - 1) * (kurtosis(f, rows: n, width: d) - 1)
        // Both sides are Double sums over the same f; differences are rounding only.
        #expect(abs(kurtosisCentred(x, rows: n, width: d) - expected) < 1e-12)
    }

    @Test("is close to Kurt − 1 on zero-row-mean data, within the d/(d − 1) factor", arguments: [32, 128, 256])
    func closeToKurtosisMinusOne(width d: Int) {
        let x = zeroMeanRows(rows: 200, half: d / 2, seed: UInt64(d))
        let kurt = kurtosis(x, rows: 200, width: d)
        let centred = kurtosisCentred(x, rows: 200, width: d)
        // With zero row means f = X/rms(X), Kurt(f) = Kurt(X), so centred − (Kurt − 1) = (Kurt − 1)/(d − 1).
        #expect(abs(centred - (kurt - 1)) <= (kurt - 1) / Double(d - 1) + 1e-12)
        #expect(kurt > 1.5)
    }

    @Test("is unchanged by adding a constant to each row")
    func rowOffsetInvariance() {
        let (n, d) = (64, 16)
        let x = gaussianMatrix(rows: n, width: d, seed: 21)
        let shifted = x.enumerated().map { $0.element + Float($0.offset / d % 5) * 0.25 }
        // The offsets are multiples of 1/4 added to values of order 1: Float rounding moves Kurt by ~1e-7.
        #expect(abs(kurtosisCentred(shifted, rows: n, width: d) - kurtosisCentred(x, rows: n, width: d)) < 1e-5)
        // ... whereas the uncentred paper kurtosis does see the offsets.
        #expect(abs(kurtosis(shifted, rows: n, width: d) - kurtosis(x, rows: n, width: d)) > 1e-3)
    }

    @Test("is 0 when every row is constant")
    func constantRows() {
        let x = (0..<40).map { Float($0 / 8) }
        #expect(kurtosisCentred(x, rows: 5, width: 8) == 0)
    }
}
