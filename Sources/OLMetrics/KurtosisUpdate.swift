/// Kurtosis-update decomposition (<doc:Metrics>): how one optimiser step changes Kurt(X) on the probe batch.
///
/// With s_j² = mean_α X_αj², a_j = (2/n)Σ_α X_αj ΔX_αj and b_j = (1/n)Σ_α ΔX_αj², the new neuron mean
/// squares are exactly s_j² + a_j + b_j, so
///   mean s²_new = mean s² + u₂₁ + u₂₂,                 u₂₁ = mean a, u₂₂ = mean b,
///   mean s⁴_new = mean s⁴ + u₄₁ + u₄₂ + u₄₃ + u₄₄,     u₄₁ = mean 2s²a, u₄₂ = mean(a² + 2s²b),
///                                                        u₄₃ = mean 2ab, u₄₄ = mean b².
/// a is first order in ΔX, b second order, so to first order (M₂ = mean s², M₄ = mean s⁴):
///   ΔKurt ≈ u₄₁/M₂² − 2·M₄·u₂₁/M₂³.
public struct KurtosisUpdateTerms: Sendable, Equatable, Codable {
    /// mean_j s_j² before the step (M₂).
    public var meanSquare: Double
    /// mean_j s_j⁴ before the step (M₄).
    public var meanFourth: Double
    public var u21: Double
    public var u22: Double
    public var u41: Double
    public var u42: Double
    public var u43: Double
    public var u44: Double

    /// Kurt(X) = M₄/M₂² (1 for an all-zero X, as `kurtosis`).
    public var kurtosisBefore: Double {
        meanSquare == 0 ? 1 : meanFourth / (meanSquare * meanSquare)
    }

    /// Kurt(X + ΔX), exactly from the terms.
    public var kurtosisAfter: Double {
        let m2 = meanSquare + u21 + u22
        let m4 = meanFourth + u41 + u42 + u43 + u44
        return m2 == 0 ? 1 : m4 / (m2 * m2)
    }

    /// The first-order prediction u₄₁/M₂² − 2·M₄·u₂₁/M₂³ of Kurt(X + ΔX) − Kurt(X).
    public var firstOrderKurtosisChange: Double {
        guard meanSquare > 0 else { return 0 }
        let m2 = meanSquare
        return u41 / (m2 * m2) - 2 * meanFourth * u21 / (m2 * m2 * m2)
    }

    /// The six terms with their log keys, in order.
    public var keyedTerms: [(key: String, value: Double)] {
        [("u21", u21), ("u22", u22), ("u41", u41), ("u42", u42), ("u43", u43), ("u44", u44)]
    }
}

/// The decomposition terms for activations X and their change ΔX (both n×d, row-major).
public func kurtosisUpdateTerms(
    activations x: UnsafeBufferPointer<Float>, delta: UnsafeBufferPointer<Float>, rows: Int, width: Int
) -> KurtosisUpdateTerms {
    checkShape(x.count, rows: rows, width: width, "kurtosis update: activations")
    checkShape(delta.count, rows: rows, width: width, "kurtosis update: delta")
    return kurtosisUpdateTerms(rows: rows, width: width) { i in (Double(x[i]), Double(delta[i])) }
}

/// The decomposition terms for X = `before` and ΔX = `after` − `before`, the difference taken in Double
/// (exact for floats within a factor 2²⁹ of each other), so `kurtosisAfter` matches `kurtosis(after)`.
public func kurtosisUpdateTerms(
    before: UnsafeBufferPointer<Float>, after: UnsafeBufferPointer<Float>, rows: Int, width: Int
) -> KurtosisUpdateTerms {
    checkShape(before.count, rows: rows, width: width, "kurtosis update: before")
    checkShape(after.count, rows: rows, width: width, "kurtosis update: after")
    return kurtosisUpdateTerms(rows: rows, width: width) { i in
        (Double(before[i]), Double(after[i]) - Double(before[i]))
    }
}

/// `kurtosisUpdateTerms(activations:delta:)` on `[Float]` matrices.
public func kurtosisUpdateTerms(activations x: [Float], delta: [Float], rows: Int, width: Int) -> KurtosisUpdateTerms {
    x.withUnsafeBufferPointer { x in
        delta.withUnsafeBufferPointer { kurtosisUpdateTerms(activations: x, delta: $0, rows: rows, width: width) }
    }
}

/// `kurtosisUpdateTerms(before:after:)` on `[Float]` matrices.
public func kurtosisUpdateTerms(before: [Float], after: [Float], rows: Int, width: Int) -> KurtosisUpdateTerms {
    before.withUnsafeBufferPointer { b in
        after.withUnsafeBufferPointer { kurtosisUpdateTerms(before: b, after: $0, rows: rows, width: width) }
    }
}

/// Accumulates s², a and b per column over rows in ascending order, then forms the means over j.
func kurtosisUpdateTerms(rows n: Int, width d: Int, element: (Int) -> (x: Double, dx: Double)) -> KurtosisUpdateTerms {
    var s2 = [Double](repeating: 0, count: d), a = s2, b = s2
    for row in 0..<n {
        for j in 0..<d {
            let (x, dx) = element(row * d + j)
            s2[j] += x * x
            a[j] += x * dx
            b[j] += dx * dx
        }
    }
    let inverseN = 1 / Double(n)
    var terms = KurtosisUpdateTerms(meanSquare: 0, meanFourth: 0, u21: 0, u22: 0, u41: 0, u42: 0, u43: 0, u44: 0)
    for j in 0..<d {
        let s = s2[j] * inverseN, aj = 2 * a[j] * inverseN, bj = b[j] * inverseN
        terms.meanSquare += s
        terms.meanFourth += s * s
        terms.u21 += aj
        terms.u22 += bj
        terms.u41 += 2 * s * aj
        terms.u42 += aj * aj + 2 * s * bj
        terms.u43 += 2 * aj * bj
        terms.u44 += bj * bj
    }
    let inverseD = 1 / Double(d)
    terms.meanSquare *= inverseD
    terms.meanFourth *= inverseD
    terms.u21 *= inverseD
    terms.u22 *= inverseD
    terms.u41 *= inverseD
    terms.u42 *= inverseD
    terms.u43 *= inverseD
    terms.u44 *= inverseD
    return terms
}

/// Cumulative sums of the decomposition terms over logged steps (the paper plots these running totals),
/// together with the realised and first-order-predicted kurtosis changes.
public struct KurtosisUpdateAccumulator: Sendable, Equatable, Codable {
    public private(set) var steps = 0
    public private(set) var u21 = 0.0
    public private(set) var u22 = 0.0
    public private(set) var u41 = 0.0
    public private(set) var u42 = 0.0
    public private(set) var u43 = 0.0
    public private(set) var u44 = 0.0
    /// Σ (Kurt after − Kurt before) over the added steps.
    public private(set) var kurtosisChange = 0.0
    /// Σ of the first-order predictions of that change.
    public private(set) var firstOrderKurtosisChange = 0.0

    public init() {}

    /// Restores running totals saved from `steps` and `keyedTotals` (in that order), for checkpoints.
    public init(steps: Int, totals: [Double]) {
        precondition(totals.count == 8, "a kurtosis-update accumulator has 8 totals")
        self.steps = steps
        (u21, u22, u41, u42) = (totals[0], totals[1], totals[2], totals[3])
        (u43, u44, kurtosisChange, firstOrderKurtosisChange) = (totals[4], totals[5], totals[6], totals[7])
    }

    public mutating func add(_ terms: KurtosisUpdateTerms) {
        steps += 1
        u21 += terms.u21
        u22 += terms.u22
        u41 += terms.u41
        u42 += terms.u42
        u43 += terms.u43
        u44 += terms.u44
        kurtosisChange += terms.kurtosisAfter - terms.kurtosisBefore
        firstOrderKurtosisChange += terms.firstOrderKurtosisChange
    }

    /// The running totals with their log keys (`cum_u21` … `cum_u44`, `cum_kurtosis_change`,
    /// `cum_first_order_kurtosis_change`), in order.
    public var keyedTotals: [(key: String, value: Double)] {
        [
            ("cum_u21", u21), ("cum_u22", u22), ("cum_u41", u41), ("cum_u42", u42), ("cum_u43", u43),
            ("cum_u44", u44), ("cum_kurtosis_change", kurtosisChange),
            ("cum_first_order_kurtosis_change", firstOrderKurtosisChange),
        ]
    }
}
