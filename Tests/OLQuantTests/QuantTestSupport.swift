import OLCore

/// N(0, std²) samples from the `tests` stream of `seed`.
func gaussian(count: Int, seed: UInt64, std: Double = 1) -> [Float] {
    var rng = RandomStream(seed: seed, purpose: "tests")
    return (0..<count).map { _ in Float(std * rng.nextNormal()) }
}

/// Mean squared difference, in Double.
func meanSquaredError(_ a: [Float], _ b: [Float]) -> Double {
    zip(a, b).reduce(0.0) { sum, pair in
        let e = Double(pair.0) - Double(pair.1)
        return sum + e * e
    } / Double(a.count)
}
