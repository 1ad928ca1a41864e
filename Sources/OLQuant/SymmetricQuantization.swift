/// Symmetric fake quantisation in float32 (<doc:Quantisation>): q_max = 2^(bits−1) − 1, s = max(absmax, 1e-5)/q_max,
/// x̂ = clamp(round(x/s), −q_max, q_max)·s with round half to even. Functions quantise the buffer they are
/// given in place (callers pass a copy: the float model is never modified) and return the scales.

/// Smallest absmax used for a scale, so an all-zero tensor gets a finite, positive scale.
public let minimumAbsMax: Float = 1e-5

/// 2^(bits−1) − 1: 127 for 8 bits, 31 for 6, 7 for 4.
public func symmetricQMax(bits: Int) -> Int {
    precondition((2...16).contains(bits), "symmetric quantisation needs 2...16 bits, got \(bits)")
    return (1 << (bits - 1)) - 1
}

/// max(absmax, 1e-5) / q_max, in float32.
public func symmetricScale(absMax: Float, bits: Int = 8) -> Float {
    max(absMax, minimumAbsMax) / Float(symmetricQMax(bits: bits))
}

/// clamp(round_half_even(x/s), −q_max, q_max)·s.
@inline(__always)
public func fakeQuantize(_ x: Float, scale: Float, qMax: Float) -> Float {
    min(max((x / scale).rounded(.toNearestOrEven), -qMax), qMax) * scale
}

/// How many scales a symmetric quantisation uses. Output channels and tokens are both rows: of an (OC, C)
/// weight and of an (n, C) activation respectively.
public enum SymmetricGranularity: String, Sendable, CaseIterable {
    case perTensor = "per-tensor"
    case perOutputChannel = "per-output-channel"
    case perToken = "per-token"
}

/// Largest |x| (NaN is ignored by `max`, so callers must pass finite data).
func absMax(_ x: UnsafeMutableBufferPointer<Float>.SubSequence) -> Float {
    var m: Float = 0
    for v in x { m = max(m, abs(v)) }
    return m
}

/// Fake-quantises `values` (rows × columns, row-major) in place with the given granularity; returns the
/// scales (one for per-tensor, one per row otherwise).
@discardableResult
public func fakeQuantizeSymmetric(
    _ values: UnsafeMutableBufferPointer<Float>, rows: Int, columns: Int,
    granularity: SymmetricGranularity, bits: Int = 8
) -> [Float] {
    precondition(rows > 0 && columns > 0 && values.count == rows * columns,
                 "\(values.count) values do not form a \(rows)×\(columns) matrix")
    let qMax = Float(symmetricQMax(bits: bits))
    let groups = granularity == .perTensor ? [0..<values.count] : (0..<rows).map { $0 * columns ..< ($0 + 1) * columns }
    return groups.map { range in
        let scale = symmetricScale(absMax: absMax(values[range]), bits: bits)
        for i in range { values[i] = fakeQuantize(values[i], scale: scale, qMax: qMax) }
        return scale
    }
}

/// Fake-quantises `values` in place with a given scale (e.g. from `mseClippingSearch`): values beyond
/// q_max·s are clipped.
public func fakeQuantizeSymmetric(_ values: UnsafeMutableBufferPointer<Float>, scale: Float, bits: Int = 8) {
    precondition(scale > 0, "quantisation scale must be positive, got \(scale)")
    let qMax = Float(symmetricQMax(bits: bits))
    for i in values.indices { values[i] = fakeQuantize(values[i], scale: scale, qMax: qMax) }
}

/// A fake-quantised copy and the scales that produced it (recorded by goldens).
public struct SymmetricQuantized: Sendable, Equatable {
    public var values: [Float]
    public var scales: [Float]
}

/// The fake-quantised copy of a row-major `[Float]` matrix.
public func fakeQuantizedSymmetric(
    _ values: [Float], rows: Int, columns: Int, granularity: SymmetricGranularity, bits: Int = 8
) -> SymmetricQuantized {
    var copy = values
    let scales = copy.withUnsafeMutableBufferPointer {
        fakeQuantizeSymmetric($0, rows: rows, columns: columns, granularity: granularity, bits: bits)
    }
    return SymmetricQuantized(values: copy, scales: scales)
}
