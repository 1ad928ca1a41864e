/// Max-Median Ratio: how far the largest activation of a token sticks out above a typical one.

/// Per-row ratio max_j|X_αj| / median_j|X_αj|, with the LOWER median for even d (sorted index (d−1)/2).
///
/// A row whose magnitudes are all zero has ratio 1 (nothing sticks out). A row with median 0 but a
/// non-zero maximum has no finite ratio and gets +∞ (more than half its entries are exactly zero, e.g.
/// after a ReLU): see `maxMedianRatio` for how the mean treats it.
public func maxMedianRatioPerRow(_ x: UnsafeBufferPointer<Float>, rows: Int, width: Int) -> [Double] {
    checkShape(x.count, rows: rows, width: width)
    var magnitudes = [Float](repeating: 0, count: width)  // (d) scratch, one row at a time
    var ratios = [Double](repeating: 0, count: rows)
    for row in 0..<rows {
        var maximum: Float = 0
        for j in 0..<width {
            magnitudes[j] = abs(x[row * width + j])
            maximum = max(maximum, magnitudes[j])
        }
        let median = Double(kthSmallest(&magnitudes, (width - 1) / 2))
        ratios[row] = maximum == 0 ? 1 : (median == 0 ? .infinity : Double(maximum) / median)
    }
    return ratios
}

/// `maxMedianRatioPerRow` of a row-major `[Float]` matrix.
public func maxMedianRatioPerRow(_ x: [Float], rows: Int, width: Int) -> [Double] {
    x.withUnsafeBufferPointer { maxMedianRatioPerRow($0, rows: rows, width: width) }
}

/// Max-Median Ratio (MMR): mean over rows of max_j|X_αj| / median_j|X_αj| (lower median for even d).
///
/// Rows with median 0 and a non-zero maximum (ratio +∞) are left out of the mean, so one sparse token does
/// not turn the whole tap into +∞; if every row is like that the result is +∞. All-zero rows count as 1.
public func maxMedianRatio(_ x: UnsafeBufferPointer<Float>, rows: Int, width: Int) -> Double {
    let ratios = maxMedianRatioPerRow(x, rows: rows, width: width)
    var sum = 0.0, count = 0
    for ratio in ratios where ratio.isFinite {
        sum += ratio
        count += 1
    }
    return count == 0 ? .infinity : sum / Double(count)
}

/// `maxMedianRatio` of a row-major `[Float]` matrix.
public func maxMedianRatio(_ x: [Float], rows: Int, width: Int) -> Double {
    x.withUnsafeBufferPointer { maxMedianRatio($0, rows: rows, width: width) }
}

/// The k-th smallest element (0-based), by quickselect with a median-of-three pivot; reorders `values`.
/// O(d) on average, against O(d log d) for a full sort (MMR sorts n rows per tap). The value returned does
/// not depend on the pivot choice, so the metric stays deterministic.
func kthSmallest(_ values: inout [Float], _ k: Int) -> Float {
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
