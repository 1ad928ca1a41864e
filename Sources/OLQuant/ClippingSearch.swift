/// MSE clipping-threshold search for symmetric per-tensor weight quantisation (W8A8-static), on the grid
/// of Bondarenko et al.'s MSE range estimator (Qualcomm's transformer-quantization and
/// outlier-free-transformers code, symmetric 1-D grid search).
///
/// Grid: the search range is absmax + m with an absolute margin m (0.5 there and by default here), cut
/// into K steps (K = 100): c_k = k·(absmax + m)/K for k = 1…K, in Double, rounded to Float. So the grid
/// runs past absmax, and for small weights (absmax ≈ 0.1 at init std 0.02) most of its candidates clip
/// nothing; absmax itself is usually not a candidate, so the result can be slightly worse than plain
/// absmax quantisation (reported beside it). For each candidate the scale is max(c_k, 1e-5)/q_max,
/// values beyond ±c_k clip (to ±q_max: the symmetric grid of <doc:Quantisation>, where their signed grid also has −128),
/// and the squared error against the original is summed in Double in index order. The first minimum over
/// k = 1…K wins (NumPy's `argmin`), so ties keep the smaller threshold.
public struct ClippingSearchResult: Sendable, Equatable, Codable {
    /// The chosen clipping threshold c_k.
    public let threshold: Float
    /// The quantisation scale max(c_k, 1e-5)/q_max.
    public let scale: Float
    /// The chosen grid index k (1…K).
    public let candidate: Int
    /// Mean squared quantisation error at the chosen threshold.
    public let meanSquaredError: Double
    /// Mean squared error of plain absmax quantisation, for comparison.
    public let absMaxMeanSquaredError: Double
}

/// Thresholds tried by the MSE clipping search, and the margin past absmax the grid runs to; recorded in goldens.
public let clippingSearchCandidates = 100
public let clippingSearchMargin = 0.5

/// Searches the clipping threshold minimising the squared error of symmetric per-tensor fake quantisation
/// of `values` over the grid c_k = k·(absmax + margin)/candidates.
public func mseClippingSearch(_ values: UnsafeBufferPointer<Float>, bits: Int = 8, candidates: Int = clippingSearchCandidates,
                              margin: Double = clippingSearchMargin) -> ClippingSearchResult {
    precondition(candidates > 0 && !values.isEmpty, "clipping search needs values and at least one candidate")
    precondition(margin >= 0 && margin.isFinite, "the search margin must be finite and non-negative")
    let qMax = Float(symmetricQMax(bits: bits))
    var absMax: Float = 0
    for v in values { absMax = max(absMax, abs(v)) }
    func squaredError(threshold: Float) -> Double {
        let scale = max(threshold, minimumAbsMax) / qMax
        var sum = 0.0
        for v in values {
            let error = Double(fakeQuantize(v, scale: scale, qMax: qMax)) - Double(v)
            sum += error * error
        }
        return sum
    }
    let step = (Double(absMax) + margin) / Double(candidates)
    var best = (candidate: 0, threshold: Float(0), error: Double.infinity)
    for k in 1...candidates {
        let threshold = Float(step * Double(k))
        let error = squaredError(threshold: threshold)
        if error < best.error { best = (k, threshold, error) }
    }
    let count = Double(values.count)
    return ClippingSearchResult(
        threshold: best.threshold, scale: max(best.threshold, minimumAbsMax) / qMax, candidate: best.candidate,
        meanSquaredError: best.error / count, absMaxMeanSquaredError: squaredError(threshold: absMax) / count
    )
}

/// `mseClippingSearch` on a `[Float]` tensor.
public func mseClippingSearch(_ values: [Float], bits: Int = 8, candidates: Int = clippingSearchCandidates, margin: Double = clippingSearchMargin) -> ClippingSearchResult {
    values.withUnsafeBufferPointer { mseClippingSearch($0, bits: bits, candidates: candidates, margin: margin) }
}
