/// Where the outliers of one residual tap X (B·T rows × d, row-major, row b·T + t) live: the largest |x|
/// and the mean row max/median ratio (`maxMedianRatioPerRow`), at position 0 and at the other positions
/// apart. Massive activations and attention sinks sit on the first token (Sun et al. 2024), so a
/// tap-wide MMR would average them away among the T − 1 other rows. Accumulated in Double.
public struct PositionSplitMagnitudes: Sendable, Equatable {
    /// max |x| over the rows at position 0 (`max_abs_pos0`) and over the rest (`max_abs_rest`).
    public var maxAbsFirst: Double
    public var maxAbsRest: Double
    /// Mean over the rows at position 0 (`mmr_pos0`), and over the rest (`mmr_rest`), of
    /// max_j|x| / median_j|x|; rows with median 0 are left out as in `maxMedianRatio`, and a group with
    /// no row left (T = 1 has no rest) is NaN, written as null.
    public var maxMedianFirst: Double
    public var maxMedianRest: Double

    public init(_ x: UnsafeBufferPointer<Float>, batch: Int, length: Int, width: Int) {
        let rows = batch * length
        checkShape(x.count, rows: rows, width: width)
        let ratios = maxMedianRatioPerRow(x, rows: rows, width: width)
        var maxAbs = (first: 0.0, rest: 0.0)
        var sums = (first: 0.0, rest: 0.0), counts = (first: 0, rest: 0), infinite = (first: 0, rest: 0)
        for row in 0..<rows {
            var rowMax = 0.0
            for j in 0..<width { rowMax = max(rowMax, abs(Double(x[row * width + j]))) }
            let ratio = ratios[row]
            if row % length == 0 {
                maxAbs.first = max(maxAbs.first, rowMax)
                if ratio.isFinite { sums.first += ratio; counts.first += 1 } else { infinite.first += 1 }
            } else {
                maxAbs.rest = max(maxAbs.rest, rowMax)
                if ratio.isFinite { sums.rest += ratio; counts.rest += 1 } else { infinite.rest += 1 }
            }
        }
        func mean(_ sum: Double, _ count: Int, _ infinite: Int) -> Double {
            count > 0 ? sum / Double(count) : (infinite > 0 ? .infinity : .nan)
        }
        maxAbsFirst = maxAbs.first
        maxAbsRest = length > 1 ? maxAbs.rest : .nan
        maxMedianFirst = mean(sums.first, counts.first, infinite.first)
        maxMedianRest = mean(sums.rest, counts.rest, infinite.rest)
    }

    public init(_ x: [Float], batch: Int, length: Int, width: Int) {
        self = x.withUnsafeBufferPointer { PositionSplitMagnitudes($0, batch: batch, length: length, width: width) }
    }
}

/// Attention probability mass on key position 0: mean over batch, heads and query rows of p(query → 0)
/// for (B, H, T, T) probabilities. 1/(i+1) per query i for uniform causal attention; near 1 for a layer
/// whose heads sink on the first token.
public func attentionMassOnFirstKey(_ probabilities: UnsafeBufferPointer<Float>, batch: Int, heads: Int, length: Int) -> Double {
    precondition(batch > 0 && heads > 0 && length > 0, "attention mass: sizes must be positive")
    precondition(probabilities.count == batch * heads * length * length,
                 "attention mass: \(probabilities.count) values do not form (B=\(batch), H=\(heads), T=\(length), T)")
    var total = 0.0
    for row in 0..<(batch * heads * length) { total += Double(probabilities[row * length]) }
    return total / Double(batch * heads * length)
}

/// `attentionMassOnFirstKey` of a row-major `[Float]` (B, H, T, T) tensor.
public func attentionMassOnFirstKey(_ probabilities: [Float], batch: Int, heads: Int, length: Int) -> Double {
    probabilities.withUnsafeBufferPointer { attentionMassOnFirstKey($0, batch: batch, heads: heads, length: length) }
}

/// The largest row max/median ratio of X (n × d): the worst token a per-tensor quantisation scale has to
/// cover, relative to that token's typical entry. Rows with median 0 (most post-ReLU rows) are left out;
/// +∞ when every row is like that, 1 for an all-zero tensor.
public func peakMaxMedianRatio(_ x: UnsafeBufferPointer<Float>, rows: Int, width: Int) -> Double {
    let ratios = maxMedianRatioPerRow(x, rows: rows, width: width)
    let finite = ratios.filter(\.isFinite)
    return finite.max() ?? (ratios.isEmpty ? .nan : .infinity)
}

/// `peakMaxMedianRatio` of a row-major `[Float]` matrix.
public func peakMaxMedianRatio(_ x: [Float], rows: Int, width: Int) -> Double {
    x.withUnsafeBufferPointer { peakMaxMedianRatio($0, rows: rows, width: width) }
}
