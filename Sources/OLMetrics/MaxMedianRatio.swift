/// Max-Median Ratio: how far the largest activation of a token sticks out above a typical one, on the raw
/// rows (`mmr`) or, as the official logger computes it, on rows centred across the width (`mmr_centred`).

/// Per-row ratio max_j|X_αj − c_α| / median_j|X_αj − c_α|, with the LOWER median for even d (sorted index
/// (d−1)/2); c_α = 0, or the row mean μ_α = mean_j X_αj (in Double) when `centringRows` is set.
///
/// A row whose magnitudes are all zero has ratio 1 (nothing sticks out). A row with median 0 but a
/// non-zero maximum has no finite ratio and gets +∞ (more than half its entries are exactly zero, e.g.
/// after a ReLU): see `maxMedianRatio` for how the mean treats it. Centring moves the zeros of such rows
/// off 0, so the centred ratio is finite unless more than half the row equals its mean.
public func maxMedianRatioPerRow(_ x: UnsafeBufferPointer<Float>, rows: Int, width: Int, centringRows: Bool = false) -> [Double] {
    checkShape(x.count, rows: rows, width: width)
    var magnitudes = [Double](repeating: 0, count: width)  // (d) scratch, one row at a time
    var ratios = [Double](repeating: 0, count: rows)
    for row in 0..<rows {
        var centre = 0.0
        if centringRows {
            for j in 0..<width { centre += Double(x[row * width + j]) }
            centre /= Double(width)
        }
        var maximum = 0.0
        for j in 0..<width {
            magnitudes[j] = abs(Double(x[row * width + j]) - centre)
            maximum = max(maximum, magnitudes[j])
        }
        let median = kthSmallest(&magnitudes, (width - 1) / 2)
        ratios[row] = maximum == 0 ? 1 : (median == 0 ? .infinity : maximum / median)
    }
    return ratios
}

/// `maxMedianRatioPerRow` of a row-major `[Float]` matrix.
public func maxMedianRatioPerRow(_ x: [Float], rows: Int, width: Int, centringRows: Bool = false) -> [Double] {
    x.withUnsafeBufferPointer { maxMedianRatioPerRow($0, rows: rows, width: width, centringRows: centringRows) }
}

/// Max-Median Ratio (MMR): mean over rows of max_j|X_αj| / median_j|X_αj| (lower median for even d), on
/// rows centred across the width first when `centringRows` is set (the official logger's form).
///
/// Rows with median 0 and a non-zero maximum (ratio +∞) are left out of the mean, so one sparse token does
/// not turn the whole tap into +∞; if every row is like that the result is +∞. All-zero rows count as 1.
public func maxMedianRatio(_ x: UnsafeBufferPointer<Float>, rows: Int, width: Int, centringRows: Bool = false) -> Double {
    let ratios = maxMedianRatioPerRow(x, rows: rows, width: width, centringRows: centringRows)
    var sum = 0.0, count = 0
    for ratio in ratios where ratio.isFinite {
        sum += ratio
        count += 1
    }
    return count == 0 ? .infinity : sum / Double(count)
}

/// `maxMedianRatio` of a row-major `[Float]` matrix.
public func maxMedianRatio(_ x: [Float], rows: Int, width: Int, centringRows: Bool = false) -> Double {
    x.withUnsafeBufferPointer { maxMedianRatio($0, rows: rows, width: width, centringRows: centringRows) }
}

/// The k-th smallest element (0-based), by quickselect with a median-of-three pivot; reorders `values`.
/// O(d) on average, against O(d log d) for a full sort (MMR sorts n rows per tap). The value returned does
/// not depend on the pivot choice, so the metric stays deterministic.
func kthSmallest(_ values: inout [Double], _ k: Int) -> Double {
    var low = 0, high = values.count - 1
    while low < high {
        let mid = low + (high - low) / 2
        let pivot = max(min(values[low], values[mid]), min(max(values[low], values[mid]), values[high]))
        var i = low, j = high
        while i <= j {
            while values[i] < pivot { i += 1 }
            while values[j] > pivot { j -= 1 }
            if i <= j {
                values.swapAt(i, j)
                i += 1
                j -= 1
            }
        }
        if k <= j {
            high = j
        } else if k >= i {
            low = i
        } else {
            return values[k]
        }
    }
    return values[k]
}
