import Testing
import OLCore
import OLMetrics

/// Direct O(n²·d) and O(n·d²) evaluations of the signal-propagation definitions, independent of the
/// Gram-identity shortcuts the library uses.
struct NaiveSignalPropagation {
    var tokenCorrMean = 0.0, tokenCorrRMS = 0.0, featureCorrRMS = 0.0, tokenCosineMean = 0.0
    /// mean over all (α, β), diagonal included, of (f fᵀ/d)²_αβ: the left side of the identity.
    var tokenCorrAllMeanSquare = 0.0

    init(_ f: [Double], rows n: Int, width d: Int) {
        func dotRows(_ a: Int, _ b: Int) -> Double {
            var s = 0.0
            for j in 0..<d { s += f[a * d + j] * f[b * d + j] }
            return s
        }
        var sum = 0.0, squares = 0.0, all = 0.0, cosines = 0.0
        for a in 0..<n {
            for b in 0..<n {
                let g = dotRows(a, b) / Double(d)
                all += g * g
                guard a != b else { continue }
                sum += g
                squares += g * g
                let norms = (dotRows(a, a) * dotRows(b, b)).squareRoot()
                cosines += norms > 0 ? dotRows(a, b) / norms : 0
            }
        }
        let pairs = Double(n * (n - 1))
        tokenCorrMean = sum / pairs
        tokenCorrRMS = (squares / pairs).squareRoot()
        tokenCosineMean = cosines / pairs
        tokenCorrAllMeanSquare = all / Double(n * n)
        var featureSquares = 0.0
        for j in 0..<d {
            for k in 0..<d where k != j {
                var s = 0.0
                for a in 0..<n { s += f[a * d + j] * f[a * d + k] }
                featureSquares += (s / Double(n)) * (s / Double(n))
            }
        }
        featureCorrRMS = (featureSquares / Double(d * (d - 1))).squareRoot()
    }
}

/// Inputs for the identity and shortcut checks: plain Gaussian, an outlier feature, an outlier token,
/// and strongly correlated tokens (a shared direction plus noise).
enum SignalCase: String, CaseIterable, CustomTestStringConvertible {
    case gaussian, outlierFeature, outlierToken, correlatedTokens
    var testDescription: String { rawValue }
    var shape: (rows: Int, width: Int) { (40, 24) }

    var activations: [Float] {
        let (n, d) = shape
        var x = gaussianMatrix(rows: n, width: d, seed: 31)
        switch self {
        case .gaussian: break
        case .outlierFeature: for row in 0..<n { x[row * d + 5] *= 60 }
        case .outlierToken: for j in 0..<d { x[7 * d + j] *= 60 }
        case .correlatedTokens:
            let shared = gaussianMatrix(rows: 1, width: d, seed: 32)
            for row in 0..<n { for j in 0..<d { x[row * d + j] = 0.3 * x[row * d + j] + 3 * shared[j] } }
        }
        return x
    }
}

@Suite("Signal propagation")
struct SignalPropagationTests {
    @Test(
        "mean over all token pairs of (f fᵀ/d)² equals Kurt(f)/d + (1 − 1/d)·feature_corr_rms²",
        arguments: SignalCase.allCases
    )
    func correlationIdentity(input: SignalCase) {
        let (n, d) = input.shape
        let x = input.activations
        let f = widthCentredNormalised(x, rows: n, width: d)
        let left = NaiveSignalPropagation(f, rows: n, width: d).tokenCorrAllMeanSquare
        let feature = featureCorrRMS(x, rows: n, width: d)
        let right = kurtosis(f, rows: n, width: d) / Double(d) + (1 - 1 / Double(d)) * feature * feature
        // An algebraic identity evaluated two ways in Double: only rounding (~1e-15 relative) separates them.
        #expect(relativeError(right, left) < 1e-12)
    }

    @Test("the Gram shortcuts agree with the direct definitions", arguments: SignalCase.allCases)
    func shortcutsMatchDefinitions(input: SignalCase) {
        let (n, d) = input.shape
        let x = input.activations
        let naive = NaiveSignalPropagation(widthCentredNormalised(x, rows: n, width: d), rows: n, width: d)
        let fast = signalPropagation(x, rows: n, width: d)
        // Values are O(1) or smaller; different Double summation orders differ by ~1e-15.
        #expect(abs(fast.tokenCorrMean - naive.tokenCorrMean) < 1e-12)
        #expect(abs(fast.tokenCorrRMS - naive.tokenCorrRMS) < 1e-12)
        #expect(abs(fast.featureCorrRMS - naive.featureCorrRMS) < 1e-12)
        #expect(abs(fast.tokenCosineMean - naive.tokenCosineMean) < 1e-12)
        #expect(tokenCorrMean(x, rows: n, width: d) == fast.tokenCorrMean)
        #expect(tokenCosineMean(x, rows: n, width: d) == fast.tokenCosineMean)
        #expect(tokenCorrRMS(x, rows: n, width: d) == fast.tokenCorrRMS)
    }

    @Test("identical token rows are perfectly correlated")
    func identicalTokens() {
        let row = gaussianMatrix(rows: 1, width: 32, seed: 41)
        let x = Array([[Float]](repeating: row, count: 20).joined())
        let metrics = signalPropagation(x, rows: 20, width: 32)
        // Every G_αβ = ‖f_α‖²/d = mean f² = 1 when all rows are equal; cosines are 1.
        #expect(abs(metrics.tokenCorrMean - 1) < 1e-12)
        #expect(abs(metrics.tokenCorrRMS - 1) < 1e-12)
        #expect(abs(metrics.tokenCosineMean - 1) < 1e-12)
    }

    @Test("independent Gaussian tokens are nearly uncorrelated, with RMS correlations ≈ 1/√d and ≈ 1/√n")
    func gaussianTokens() {
        let (n, d) = (256, 128)
        let metrics = signalPropagation(gaussianMatrix(rows: n, width: d, seed: 43), rows: n, width: d)
        // Off-diagonal G_αβ ≈ (1/d)Σ_j of d products of unit-variance values: variance ≈ 1/d.
        // F_jk averages n products (variance 1/n) and carries the −1/(d−1) shift from width centring.
        // Both RMS values are averaged over ≥ 8000 pairs, so 5 % covers sampling noise and the O(1/d) terms.
        #expect(relativeError(metrics.tokenCorrRMS, (1 / Double(d)).squareRoot()) < 0.05)
        let featureExpected = (1 / Double(n) + 1 / Double((d - 1) * (d - 1))).squareRoot()
        #expect(relativeError(metrics.featureCorrRMS, featureExpected) < 0.05)
        // The mean of n(n−1) off-diagonal entries of size 1/√d: standard error ≈ 1/(n√d); use 5σ.
        #expect(abs(metrics.tokenCorrMean) < 5 / (Double(n) * Double(d).squareRoot()))
        #expect(abs(metrics.tokenCosineMean) < 5 / (Double(n) * Double(d).squareRoot()))
    }

    @Test("results are bitwise identical with one and two worker threads")
    func threadCountInvariance() {
        let x = gaussianMatrix(rows: 300, width: 70, seed: 47)
        let one = Parallel.withWorkers(1) { signalPropagation(x, rows: 300, width: 70) }
        let two = Parallel.withWorkers(2) { signalPropagation(x, rows: 300, width: 70) }
        #expect(one == two)
    }

    @Test("a single token or a single feature has no off-diagonal entries and reports 0")
    func degenerateShapes() {
        let oneToken = signalPropagation([1, 2, 3, 4], rows: 1, width: 4)
        #expect(oneToken.tokenCorrMean == 0 && oneToken.tokenCorrRMS == 0 && oneToken.tokenCosineMean == 0)
        let oneFeature = signalPropagation([1, 2, 3, 4], rows: 4, width: 1)
        #expect(oneFeature.featureCorrRMS == 0 && oneFeature.tokenCorrRMS == 0)
    }

    @Test("activation RMS is the global root mean square of the raw values")
    func activationRMSByHand() {
        // (9 + 16 + 0 + 144 + 25 + 0)/6 = 194/6.
        #expect(abs(activationRMS([3, -4, 0, 12, 5, 0], rows: 2, width: 3) - (194.0 / 6).squareRoot()) < 1e-15)
    }
}
