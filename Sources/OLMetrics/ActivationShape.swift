/// Shared shape handling for metrics on an activation matrix X ∈ ℝ^{n×d}, stored row-major: row α is one
/// token, column j one neuron (feature). Every metric accumulates in Double and sums in a fixed index order,
/// so results are bitwise reproducible for a given input.

@inline(__always)
func checkShape(_ count: Int, rows: Int, width: Int, _ what: String = "activations") {
    precondition(rows > 0 && width > 0, "\(what): rows and width must be positive, got \(rows)×\(width)")
    precondition(count == rows * width, "\(what): \(count) values do not form a \(rows)×\(width) matrix")
}

/// s_j² = mean_α X_αj² for every column j (no centring over tokens), accumulated over α in ascending order.
func neuronMeanSquares<T: BinaryFloatingPoint>(_ x: UnsafeBufferPointer<T>, rows: Int, width: Int) -> [Double] {
    var sums = [Double](repeating: 0, count: width)
    sums.withUnsafeMutableBufferPointer { s in
        for row in 0..<rows {
            let base = row * width
            for j in 0..<width {
                let v = Double(x[base + j])
                s[j] += v * v
            }
        }
        let scale = 1 / Double(rows)
        for j in 0..<width { s[j] *= scale }
    }
    return sums
}

/// Kurt = mean_j s_j⁴ / (mean_j s_j²)², with Kurt = 1 when every s_j² is zero.
func kurtosis(meanSquares s2: [Double]) -> Double {
    var m2 = 0.0, m4 = 0.0
    for v in s2 {
        m2 += v
        m4 += v * v
    }
    m2 /= Double(s2.count)
    m4 /= Double(s2.count)
    return m2 == 0 ? 1 : m4 / (m2 * m2)
}
