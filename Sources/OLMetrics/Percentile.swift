/// The p-th percentile of sorted values, linear interpolation at rank p/100·(N − 1) (NumPy's default), in
/// Double: what static calibration ranges and bootstrap intervals read off their sorted samples.
public func percentileOfSorted<Value: BinaryFloatingPoint>(_ sorted: [Value], _ p: Double) -> Double {
    precondition(!sorted.isEmpty && (0...100).contains(p), "percentile needs values and p in [0, 100]")
    let rank = p / 100 * Double(sorted.count - 1)
    let lower = Int(rank.rounded(.down))
    let upper = min(lower + 1, sorted.count - 1)
    let fraction = rank - Double(lower)
    return Double(sorted[lower]) + fraction * (Double(sorted[upper]) - Double(sorted[lower]))
}
