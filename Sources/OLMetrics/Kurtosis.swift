/// Activation kurtosis over neurons (He et al. 2024, Eq. 1), in the paper's form and in the form the
/// official logger reports.

/// Kurtosis of the neuron RMS values (paper Eq. 1): s_j = √(mean_α X_αj²), Kurt = mean_j s_j⁴ / (mean_j s_j²)².
///
/// Kurt ∈ [1, d]: 1 iff every neuron has the same RMS, d iff one neuron carries all the energy; ≈ 1 + 2/n for
/// i.i.d. Gaussian X. Scale-invariant. An all-zero X has no outlier neuron, so it is defined as 1.
public func kurtosis(_ x: UnsafeBufferPointer<Float>, rows: Int, width: Int) -> Double {
    checkShape(x.count, rows: rows, width: width)
    return kurtosis(meanSquares: neuronMeanSquares(x, rows: rows, width: width))
}

/// `kurtosis` of a row-major `[Float]` matrix.
public func kurtosis(_ x: [Float], rows: Int, width: Int) -> Double {
    x.withUnsafeBufferPointer { kurtosis($0, rows: rows, width: width) }
}

/// `kurtosis` of a row-major `[Double]` matrix, e.g. the normalised features from `widthCentredNormalised`.
public func kurtosis(_ x: [Double], rows: Int, width: Int) -> Double {
    checkShape(x.count, rows: rows, width: width)
    return x.withUnsafeBufferPointer { kurtosis(meanSquares: neuronMeanSquares($0, rows: rows, width: width)) }
}

/// Kurtosis as the official logger reports it (`kurtCentred`): f = width-centred X divided by its global RMS
/// (see `widthCentredNormalised`), v_j = mean_α f_αj², result = unbiased variance of v over j.
///
/// Because mean_j v_j = mean f² = 1, this equals d/(d−1)·(Kurt(f) − 1) exactly, so it is ≈ Kurt(X) − 1 when
/// rows have (near) zero mean and d is large. It is invariant to adding a constant to each row. Defined as 0
/// when d = 1 or when every row is constant (f = 0): no neuron stands out.
public func kurtosisCentred(_ x: UnsafeBufferPointer<Float>, rows: Int, width: Int) -> Double {
    checkShape(x.count, rows: rows, width: width)
    let f = widthCentredNormalised(x, rows: rows, width: width)
    return f.withUnsafeBufferPointer { kurtosisCentred(normalisedFeatures: $0, rows: rows, width: width) }
}

/// `kurtosisCentred` of a row-major `[Float]` matrix.
public func kurtosisCentred(_ x: [Float], rows: Int, width: Int) -> Double {
    x.withUnsafeBufferPointer { kurtosisCentred($0, rows: rows, width: width) }
}

/// Unbiased variance over j of v_j = mean_α f_αj² for already centred and normalised features f.
func kurtosisCentred(normalisedFeatures f: UnsafeBufferPointer<Double>, rows: Int, width: Int) -> Double {
    guard width > 1 else { return 0 }
    return unbiasedVariance(neuronMeanSquares(f, rows: rows, width: width))
}

/// Σ(v − mean)²/(n − 1), both sums in Double in index order; 0 for fewer than two values.
func unbiasedVariance(_ v: [Double]) -> Double {
    guard v.count > 1 else { return 0 }
    var mean = 0.0
    for value in v { mean += value }
    mean /= Double(v.count)
    var squares = 0.0
    for value in v { squares += (value - mean) * (value - mean) }
    return squares / Double(v.count - 1)
}

/// The features the official logger and the signal-propagation metrics work on:
/// f_αj = (X_αj − μ_α) / r, where μ_α = mean_j X_αj centres each row across the width and
/// r = √(mean_αj (X_αj − μ_α)²) is the global RMS of the centred values, so mean f² = 1.
/// If every row is constant (r = 0), f is all zeros. Row-major n×d, Double.
public func widthCentredNormalised(_ x: UnsafeBufferPointer<Float>, rows: Int, width: Int) -> [Double] {
    checkShape(x.count, rows: rows, width: width)
    var f = [Double](repeating: 0, count: rows * width)  // (n, d)
    var sumSquares = 0.0
    f.withUnsafeMutableBufferPointer { f in
        for row in 0..<rows {
            let base = row * width
            var rowSum = 0.0
            for j in 0..<width { rowSum += Double(x[base + j]) }
            let mean = rowSum / Double(width)
            for j in 0..<width {
                let centred = Double(x[base + j]) - mean
                f[base + j] = centred
                sumSquares += centred * centred
            }
        }
        guard sumSquares > 0 else { return }
        let inverseRMS = 1 / (sumSquares / Double(rows * width)).squareRoot()
        for i in f.indices { f[i] *= inverseRMS }
    }
    return f
}

/// `widthCentredNormalised` of a row-major `[Float]` matrix.
public func widthCentredNormalised(_ x: [Float], rows: Int, width: Int) -> [Double] {
    x.withUnsafeBufferPointer { widthCentredNormalised($0, rows: rows, width: width) }
}

/// Global RMS √(mean_αj X_αj²) of the raw (uncentred) activations.
public func activationRMS(_ x: UnsafeBufferPointer<Float>, rows: Int, width: Int) -> Double {
    checkShape(x.count, rows: rows, width: width)
    var sum = 0.0
    for v in x { sum += Double(v) * Double(v) }
    return (sum / Double(x.count)).squareRoot()
}

/// `activationRMS` of a row-major `[Float]` matrix.
public func activationRMS(_ x: [Float], rows: Int, width: Int) -> Double {
    x.withUnsafeBufferPointer { activationRMS($0, rows: rows, width: width) }
}
