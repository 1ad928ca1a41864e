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
        for j in 0..<width { magnitudes[j] = abs(x[row * width + j]) }
        magnitudes.sort()
        let median = Double(magnitudes[(width - 1) / 2])
        let maximum = Double(magnitudes[width - 1])
        ratios[row] = maximum == 0 ? 1 : (median == 0 ? .infinity : maximum / median)
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
