import OLCore

/// Mean attention entropy of one layer: mean over batch, heads and query rows of −Σ_k p_k log p_k (natural
/// log, 0·log 0 = 0). `probabilities` is (B, H, T, T) row-major; query row t reads only the causal keys
/// 0...t, so entries above the diagonal are ignored. Uniform causal attention gives mean_t log(t + 1); a
/// collapsed (one-hot) head gives 0.
public func attentionEntropy(
    _ probabilities: UnsafeBufferPointer<Float>, batch: Int, heads: Int, length: Int
) -> Double {
    precondition(batch > 0 && heads > 0 && length > 0, "attention entropy: sizes must be positive")
    precondition(
        probabilities.count == batch * heads * length * length,
        "attention entropy: \(probabilities.count) values do not form (B=\(batch), H=\(heads), T=\(length), T)"
    )
    var total = 0.0
    for row in 0..<(batch * heads * length) {
        let query = row % length
        let base = row * length
        var entropy = 0.0
        for key in 0...query {
            let p = Double(probabilities[base + key])
            if p > 0 { entropy -= p * log(p) }
        }
        total += entropy
    }
    return total / Double(batch * heads * length)
}

/// `attentionEntropy` of a row-major `[Float]` (B, H, T, T) tensor.
public func attentionEntropy(_ probabilities: [Float], batch: Int, heads: Int, length: Int) -> Double {
    probabilities.withUnsafeBufferPointer { attentionEntropy($0, batch: batch, heads: heads, length: length) }
}
