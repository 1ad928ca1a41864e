/// Asymmetric (affine) unsigned fake quantisation per tensor with a static range, as used for activations
/// in W8A8-static. The range is first widened to contain 0 (so zero, e.g. ReLU output or padding, is exact,
/// as PyTorch's observers do); then
///   s = max(max′ − min′, 1e-5) / q_max,  z = clamp(round(−min′/s), 0, q_max),  q_max = 2^bits − 1 (255),
///   q = clamp(round(x/s) + z, 0, q_max),  x̂ = (q − z)·s,
/// all in float32 with round half to even. Inputs outside the range clip to its (quantised) endpoints.
public struct AffineQuantization: Sendable, Equatable, Codable {
    public let scale: Float
    public let zeroPoint: Int
    public let qMax: Int

    /// Parameters for the static range [minimum, maximum].
    public init(minimum: Float, maximum: Float, bits: Int = 8) {
        precondition((2...16).contains(bits), "asymmetric quantisation needs 2...16 bits, got \(bits)")
        precondition(minimum <= maximum, "range minimum \(minimum) exceeds maximum \(maximum)")
        let low = min(minimum, 0), high = max(maximum, 0)
        qMax = (1 << bits) - 1
        scale = max(high - low, minimumAbsMax) / Float(qMax)
        zeroPoint = Int(min(max((-low / scale).rounded(.toNearestOrEven), 0), Float(qMax)))
    }

    /// The integer code 0...q_max of x.
    @inline(__always)
    public func quantize(_ x: Float) -> Int {
        Int(min(max((x / scale).rounded(.toNearestOrEven) + Float(zeroPoint), 0), Float(qMax)))
    }

    /// The value of code q.
    @inline(__always)
    public func dequantize(_ q: Int) -> Float { Float(q - zeroPoint) * scale }

    @inline(__always)
    public func fakeQuantize(_ x: Float) -> Float { dequantize(quantize(x)) }

    /// Fake-quantises `values` in place.
    public func fakeQuantize(_ values: UnsafeMutableBufferPointer<Float>) {
        for i in values.indices { values[i] = fakeQuantize(values[i]) }
    }

    /// A fake-quantised copy of `values`.
    public func fakeQuantized(_ values: [Float]) -> [Float] { values.map { fakeQuantize($0) } }
}
