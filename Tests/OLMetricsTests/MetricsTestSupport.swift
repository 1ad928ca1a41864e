import OLCore

/// n×d row-major matrix of N(0, std²) samples from the `tests` stream of `seed`.
func gaussianMatrix(rows: Int, width: Int, seed: UInt64, std: Double = 1) -> [Float] {
    var rng = RandomStream(seed: seed, purpose: "tests")
    return (0..<(rows * width)).map { _ in Float(std * rng.nextNormal()) }
}

/// n×d matrix of random ±1 entries, with column `outlier` (if any) scaled to ±r: every s_j² is exactly
/// 1 or r², so the kurtosis is known in closed form.
func signMatrix(rows: Int, width: Int, seed: UInt64, outlier: Int? = nil, r: Float = 1) -> [Float] {
    var rng = RandomStream(seed: seed, purpose: "tests")
    var x = [Float](repeating: 0, count: rows * width)
    for row in 0..<rows {
        for j in 0..<width {
            let sign: Float = rng.nextInt(below: 2) == 0 ? -1 : 1
            x[row * width + j] = sign * (j == outlier ? r : 1)
        }
    }
    return x
}

/// |a − b| / max(|b|, tiny): relative difference against a reference `b`.
func relativeError(_ a: Double, _ b: Double) -> Double {
    abs(a - b) / max(abs(b), 1e-300)
}
