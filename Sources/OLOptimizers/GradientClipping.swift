import OLCore

/// Global gradient-norm clipping, as the trainer (and the benchmark) steps: the norm of every gradient
/// together, summed in Double in index order; when it is finite and above `maxNorm` (> 0), every gradient
/// is scaled by maxNorm/norm (rounded once to Float). Returns the norm before clipping; a non-finite norm
/// leaves the gradients alone for the caller to report.
@discardableResult
public func clipGlobalNorm(_ gradients: FloatArena, maxNorm: Double) -> Double {
    var sum = 0.0
    for value in gradients.storage { sum += Double(value) * Double(value) }
    let norm = sum.squareRoot()
    if norm.isFinite && maxNorm > 0 && norm > maxNorm {
        let scale = Float(maxNorm / norm)
        for i in gradients.storage.indices { gradients.storage[i] *= scale }
    }
    return norm
}
