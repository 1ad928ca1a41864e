import CVectorMath
import OLCore

/// p = softmax(z) over `count` entries in float32, with max-subtraction (p may be z itself); returns the
/// max and the sum of exp(z − max), from which a cross-entropy is log(sum) + max − z[target].
///
/// The same bits as the plain loop (max, then p = expf(z − max) with the sum in index order, then
/// p · (1/sum)), faster: the max in 16 lanes (a max does not depend on the order; nan never wins, as in
/// the loop), the exponentials by `olab_exp_shifted` (bitwise libm's expf, eight at a time), the
/// normalisation in 16 lanes. The sum stays one float added in index order.
@inline(__always) func softmax(_ z: UnsafePointer<Float>, into p: UnsafeMutablePointer<Float>, count: Int) -> (max: Float, sum: Float) {
    let (maxes, sums) = softmaxRows(1, z: { _ in z }, p: { _ in p }, count: { _ in count })
    return (maxes[0], sums[0])
}

/// `softmax` of `group` (≤ 4) rows at once — row g reads z(g) and writes p(g), count(g) entries — with the
/// bits of calling it row by row: each row's sum is still one float chain in index order, but the rows'
/// chains run side by side (one chain alone waits on each add's latency).
@inline(__always) func softmaxRows(_ group: Int, z: (Int) -> UnsafePointer<Float>, p: (Int) -> UnsafeMutablePointer<Float>,
                                   count: (Int) -> Int) -> (max: SIMD4<Float>, sum: SIMD4<Float>) {
    var maxes = SIMD4<Float>(repeating: 0), sums = SIMD4<Float>(repeating: 0)
    for g in 0..<group {
        maxes[g] = rowMax(z(g), count: count(g))
        olab_exp_shifted(z(g), maxes[g], p(g), count(g))
    }
    var common = 0
    if group == 4 {
        let (p0, p1, p2, p3) = (p(0), p(1), p(2), p(3))
        common = min(min(count(0), count(1)), min(count(2), count(3)))
        for j in 0..<common { sums += SIMD4(p0[j], p1[j], p2[j], p3[j]) }
    }
    for g in 0..<group {
        let row = p(g)
        for j in common..<count(g) { sums[g] += row[j] }
        scale(row, count: count(g), by: 1 / sums[g])
    }
    return (maxes, sums)
}

/// The largest of `count` floats in 16 lanes (a max does not depend on the order; nan never wins, as in
/// the loop `for v in z where v > max { max = v }`); −inf for an empty row.
@inline(__always) func rowMax(_ z: UnsafePointer<Float>, count: Int) -> Float {
    let vectorEnd = count & ~15
    var lanes = SIMD16<Float>(repeating: -.infinity)
    for j in stride(from: 0, to: vectorEnd, by: 16) {
        let v = loadVector(z + j)
        lanes.replace(with: v, where: v .> lanes)
    }
    var maxv = -Float.infinity
    for i in 0..<16 where lanes[i] > maxv { maxv = lanes[i] }
    for j in vectorEnd..<count where z[j] > maxv { maxv = z[j] }
    return maxv
}

/// p[j] *= factor for j < count, in 16 lanes.
@inline(__always) func scale(_ p: UnsafeMutablePointer<Float>, count: Int, by factor: Float) {
    forEachLane(count) { j in storeVector(loadVector(p + j) * SIMD16(repeating: factor), p + j) } tail: { j in p[j] *= factor }
}

/// p[j] = 0 for j < count, in 16 lanes (inline: the rows right of a causal diagonal are too short for a
/// memset call to pay).
@inline(__always) func zeroFill(_ p: UnsafeMutablePointer<Float>, count: Int) {
    forEachLane(count) { j in storeVector(SIMD16(repeating: 0), p + j) } tail: { j in p[j] = 0 }
}
