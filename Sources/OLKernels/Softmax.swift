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
    let vectorEnd = count & ~15
    var lanes = SIMD16<Float>(repeating: -.infinity)
    for j in stride(from: 0, to: vectorEnd, by: 16) {
        let v = loadVector(z + j)
        lanes.replace(with: v, where: v .> lanes)
    }
    var maxv = -Float.infinity
    for i in 0..<16 where lanes[i] > maxv { maxv = lanes[i] }
    for j in vectorEnd..<count where z[j] > maxv { maxv = z[j] }
    olab_exp_shifted(z, maxv, p, count)
    var sum: Float = 0
    for j in 0..<count { sum += p[j] }
    let inv = 1 / sum
    let invv = SIMD16<Float>(repeating: inv)
    for j in stride(from: 0, to: vectorEnd, by: 16) { storeVector(loadVector(p + j) * invv, p + j) }
    for j in vectorEnd..<count { p[j] *= inv }
    return (maxv, sum)
}
