import OLCore

/// Signal-propagation metrics on the width-centred, globally normalised features f (see
/// `widthCentredNormalised`; mean f² = 1). With G = f fᵀ/d (n×n, token–token) and F = fᵀf/n (d×d,
/// feature–feature, uncentred over tokens):
///
/// - `tokenCorrMean`, `tokenCorrRMS`: mean and RMS of the n(n−1) off-diagonal entries of G;
/// - `featureCorrRMS`: RMS of the d(d−1) off-diagonal entries of F (the diagonal F_jj = s_j(f)² is excluded);
/// - `tokenCosineMean`: mean over α ≠ β of cos(f_α, f_β), the exact per-token version of `tokenCorrMean`
///   (a zero row has cosine 0 with every row).
///
/// With these definitions the identity mean_{α,β} G_αβ² = Kurt(f)/d + (1 − 1/d)·featureCorrRMS² holds exactly
/// (up to rounding), because Σ_{αβ} G_αβ² = (n/d)² Σ_{jk} F_jk² and F_jj = s_j² with mean_j s_j² = 1.
/// Off-diagonal statistics of a 1-row (or 1-column) matrix are defined as 0.
///
/// Cost: G is never formed. Its mean uses Σ_{αβ} G_αβ = ‖Σ_α f_α‖²/d and its sum of squares uses the Gram
/// identity above, so the whole set costs O(n·d²/2) multiply-adds in Double for F (≈ 67 M for n = 2048,
/// d = 256) plus O(n·d), instead of O(n²·d). F's rows are split over threads in fixed chunks of
/// `gramChunk` rows; every entry is one ascending-order dot product, so results do not depend on the
/// thread count.
public struct SignalPropagation: Sendable, Equatable {
    public var tokenCorrMean: Double
    public var tokenCorrRMS: Double
    public var featureCorrRMS: Double
    public var tokenCosineMean: Double
}

/// All signal-propagation metrics of X ∈ ℝ^{n×d} (row-major).
public func signalPropagation(_ x: UnsafeBufferPointer<Float>, rows: Int, width: Int) -> SignalPropagation {
    let f = widthCentredNormalised(x, rows: rows, width: width)
    return f.withUnsafeBufferPointer { FeatureStatistics($0, rows: rows, width: width).signalPropagation }
}

/// `signalPropagation` of a row-major `[Float]` matrix.
public func signalPropagation(_ x: [Float], rows: Int, width: Int) -> SignalPropagation {
    x.withUnsafeBufferPointer { signalPropagation($0, rows: rows, width: width) }
}

/// Mean of the off-diagonal entries of f fᵀ/d; O(n·d).
public func tokenCorrMean(_ x: [Float], rows: Int, width: Int) -> Double {
    let f = widthCentredNormalised(x, rows: rows, width: width)
    return f.withUnsafeBufferPointer { tokenCorrMean(normalisedFeatures: $0, rows: rows, width: width) }
}

/// Mean over α ≠ β of the cosine similarity of token rows of f; O(n·d).
public func tokenCosineMean(_ x: [Float], rows: Int, width: Int) -> Double {
    let f = widthCentredNormalised(x, rows: rows, width: width)
    return f.withUnsafeBufferPointer { tokenCosineMean(normalisedFeatures: $0, rows: rows, width: width) }
}

/// RMS of the off-diagonal entries of f fᵀ/d; O(n·d²/2) through the feature Gram matrix.
public func tokenCorrRMS(_ x: [Float], rows: Int, width: Int) -> Double {
    signalPropagation(x, rows: rows, width: width).tokenCorrRMS
}

/// RMS of the off-diagonal entries of fᵀf/n; O(n·d²/2).
public func featureCorrRMS(_ x: [Float], rows: Int, width: Int) -> Double {
    signalPropagation(x, rows: rows, width: width).featureCorrRMS
}

/// Rows of F = fᵀf/n handed to one worker at a time.
let gramChunk = 8

/// Everything the tap metrics need from f, computed once: F's diagonal (v_j = s_j(f)²), the sums of squares of
/// F's diagonal and off-diagonal, and the cheap O(n·d) token statistics.
struct FeatureStatistics {
    var featureMeanSquares: [Double]  // (d) F_jj = mean_α f_αj²
    var gramOffDiagonalSquares: Double  // Σ_{j≠k} F_jk²
    var tokenCorrMean: Double
    var tokenCosineMean: Double
    var tokenCorrRMS: Double
    var featureCorrRMS: Double

    init(_ f: UnsafeBufferPointer<Double>, rows n: Int, width d: Int) {
        var diagonal = [Double](repeating: 0, count: d)
        var offDiagonalByRow = [Double](repeating: 0, count: d)  // Σ_{k>j} F_jk², combined in j order below
        var transposed = [Double](repeating: 0, count: d * n)  // (d, n) so each F_jk is a contiguous dot product
        for row in 0..<n {
            for j in 0..<d { transposed[j * n + row] = f[row * d + j] }
        }
        transposed.withUnsafeMutableBufferPointer { ft in
            diagonal.withUnsafeMutableBufferPointer { diag in
                offDiagonalByRow.withUnsafeMutableBufferPointer { off in
                    let ft = SendablePointer(ft), diag = SendablePointer(diag), off = SendablePointer(off)
                    let scale = 1 / Double(n)
                    Parallel.forEachChunk(count: d, chunkSize: gramChunk) { range in
                        for j in range {
                            diag[j] = dot(ft.base + j * n, ft.base + j * n, count: n) * scale
                            var squares = 0.0
                            for k in (j + 1)..<max(j + 1, d) {
                                let value = dot(ft.base + j * n, ft.base + k * n, count: n) * scale
                                squares += value * value
                            }
                            off[j] = squares
                        }
                    }
                }
            }
        }
        var offSquares = 0.0, diagonalSquares = 0.0
        for j in 0..<d {
            offSquares += 2 * offDiagonalByRow[j]
            diagonalSquares += diagonal[j] * diagonal[j]
        }
        featureMeanSquares = diagonal
        gramOffDiagonalSquares = offSquares
        featureCorrRMS = d > 1 ? (offSquares / Double(d * (d - 1))).squareRoot() : 0

        // Σ_{αβ} G_αβ² = (n/d)² Σ_{jk} F_jk²; subtract the diagonal G_αα² = (‖f_α‖²/d)².
        var tokenDiagonalSquares = 0.0
        for row in 0..<n {
            var norm2 = 0.0
            for j in 0..<d { norm2 += f[row * d + j] * f[row * d + j] }
            tokenDiagonalSquares += (norm2 / Double(d)) * (norm2 / Double(d))
        }
        let ratio = Double(n) / Double(d)
        let tokenOffSquares = ratio * ratio * (diagonalSquares + offSquares) - tokenDiagonalSquares
        tokenCorrRMS = n > 1 ? (max(0, tokenOffSquares) / Double(n * (n - 1))).squareRoot() : 0
        tokenCorrMean = OLMetrics.tokenCorrMean(normalisedFeatures: f, rows: n, width: d)
        tokenCosineMean = OLMetrics.tokenCosineMean(normalisedFeatures: f, rows: n, width: d)
    }

    var signalPropagation: SignalPropagation {
        SignalPropagation(
            tokenCorrMean: tokenCorrMean, tokenCorrRMS: tokenCorrRMS,
            featureCorrRMS: featureCorrRMS, tokenCosineMean: tokenCosineMean
        )
    }

    /// Unbiased variance of F_jj over j: `kurtosisCentred`.
    var kurtosisCentred: Double { unbiasedVariance(featureMeanSquares) }
}

/// Σ_i a_i b_i with four interleaved partial sums (lanes i mod 4, combined as (s0 + s1) + (s2 + s3)): a
/// fixed order that lets the compiler vectorise.
@inline(__always)
func dot(_ a: UnsafeMutablePointer<Double>, _ b: UnsafeMutablePointer<Double>, count: Int) -> Double {
    var s0 = 0.0, s1 = 0.0, s2 = 0.0, s3 = 0.0
    var i = 0
    while i + 4 <= count {
        s0 += a[i] * b[i]
        s1 += a[i + 1] * b[i + 1]
        s2 += a[i + 2] * b[i + 2]
        s3 += a[i + 3] * b[i + 3]
        i += 4
    }
    while i < count {
        s0 += a[i] * b[i]
        i += 1
    }
    return (s0 + s1) + (s2 + s3)
}

/// (Σ_{αβ} G_αβ − Σ_α G_αα) / (n(n−1)) with Σ_{αβ} G_αβ = ‖Σ_α f_α‖²/d.
func tokenCorrMean(normalisedFeatures f: UnsafeBufferPointer<Double>, rows n: Int, width d: Int) -> Double {
    guard n > 1 else { return 0 }
    var columnSums = [Double](repeating: 0, count: d)
    var trace = 0.0
    for row in 0..<n {
        for j in 0..<d {
            let v = f[row * d + j]
            columnSums[j] += v
            trace += v * v
        }
    }
    var total = 0.0
    for s in columnSums { total += s * s }
    return (total - trace) / Double(d) / Double(n * (n - 1))
}

/// (‖Σ_α u_α‖² − Σ_α ‖u_α‖²) / (n(n−1)) with u_α = f_α/‖f_α‖ (0 for a zero row).
func tokenCosineMean(normalisedFeatures f: UnsafeBufferPointer<Double>, rows n: Int, width d: Int) -> Double {
    guard n > 1 else { return 0 }
    var unitSum = [Double](repeating: 0, count: d)
    var diagonal = 0.0
    for row in 0..<n {
        var norm2 = 0.0
        for j in 0..<d { norm2 += f[row * d + j] * f[row * d + j] }
        guard norm2 > 0 else { continue }
        let inverseNorm = 1 / norm2.squareRoot()
        var unitNorm2 = 0.0
        for j in 0..<d {
            let u = f[row * d + j] * inverseNorm
            unitSum[j] += u
            unitNorm2 += u * u
        }
        diagonal += unitNorm2
    }
    var total = 0.0
    for s in unitSum { total += s * s }
    return (total - diagonal) / Double(n * (n - 1))
}
