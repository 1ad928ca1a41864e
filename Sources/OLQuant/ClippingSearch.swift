/// MSE clipping-threshold search for symmetric per-tensor weight quantisation (W8A8-static).
///
/// Grid: c_k = absmax·k/K for k = 1…K (K = 100 by default), evaluated in Double and rounded to Float, so
/// c_K is exactly absmax (plain absmax quantisation) and the search can never do worse than it. For each
/// candidate the scale is max(c_k, 1e-5)/q_max, values beyond ±c_k clip, and the mean squared error against
/// the original is accumulated in Double in index order. Ties keep the larger threshold (less clipping).
public struct ClippingSearchResult: Sendable, Equatable, Codable {
    /// The chosen clipping threshold c_k.
    public let threshold: Float
    /// The quantisation scale max(c_k, 1e-5)/q_max.
    public let scale: Float
    /// The chosen grid index k (1…K); K means no clipping.
    public let candidate: Int
    /// Mean squared quantisation error at the chosen threshold.
    public let meanSquaredError: Double
    /// Mean squared error of plain absmax quantisation (k = K), for comparison.
    public let absMaxMeanSquaredError: Double
}

/// Searches the clipping threshold minimising the MSE of symmetric per-tensor fake quantisation of `values`.
public func mseClippingSearch(_ values: UnsafeBufferPointer<Float>, bits: Int = 8, candidates: Int = 100) -> ClippingSearchResult {
    precondition(candidates > 0 && !values.isEmpty, "clipping search needs values and at least one candidate")
    let qMax = Float(symmetricQMax(bits: bits))
    var absMax: Float = 0
    for v in values { absMax = max(absMax, abs(v)) }
    func meanSquaredError(scale: Float) -> Double {
        var sum = 0.0
        for v in values {
            let error = Double(fakeQuantize(v, scale: scale, qMax: qMax)) - Double(v)
            sum += error * error
        }
        return sum / Double(values.count)
    }
    var best = (candidate: 0, threshold: Float(0), scale: Float(0), error: Double.infinity)
    var absMaxError = 0.0
    for k in stride(from: candidates, through: 1, by: -1) {
        let threshold = Float(Double(absMax) * Double(k) / Double(candidates))
        let scale = max(threshold, minimumAbsMax) / qMax
        let error = meanSquaredError(scale: scale)
        if k == candidates { absMaxError = error }
        if error < best.error { best = (k, threshold, scale, error) }
    }
    return ClippingSearchResult(
        threshold: best.threshold, scale: best.scale, candidate: best.candidate,
        meanSquaredError: best.error, absMaxMeanSquaredError: absMaxError
    )
}

/// `mseClippingSearch` on a `[Float]` tensor.
public func mseClippingSearch(_ values: [Float], bits: Int = 8, candidates: Int = 100) -> ClippingSearchResult {
    values.withUnsafeBufferPointer { mseClippingSearch($0, bits: bits, candidates: candidates) }
}
