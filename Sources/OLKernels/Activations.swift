import OLCore

/// MLP activation: the model's `activation` setting, and the kernel it selects.
public enum Activation: String, Sendable, CaseIterable {
    case relu, gelu
}

private let geluScale = Float((2.0 / Double.pi).squareRoot())
/// The cubic coefficient of GELU's tanh approximation; recorded in goldens.
public let geluCubicCoefficient: Float = 0.044715

/// out = act(inp), element-wise over N; out may be inp (the model runs ReLU in place).
/// - ReLU: max(x, 0), a lane-wise select (nan > 0 is false, so nan → 0 in both paths): no branch on the signs.
/// - GELU, tanh approximation: ½x(1 + tanh(√(2/π)(x + 0.044715x³))).
public func activationForward(
    _ activation: Activation,
    out: UnsafeMutablePointer<Float>,   // (N)
    inp: UnsafePointer<Float>,          // (N)
    N: Int
) {
    let (o, x) = (SendablePointer(out), shared(inp))
    Parallel.forEachChunk(count: N, chunkSize: elementChunk) { range in
        switch activation {
        case .relu:
            forEachLane(range) { i in
                let v = loadVector(x.base + i)
                storeVector(v.replacing(with: 0, where: .!(v .> 0)), o.base + i)
            } tail: { i in o[i] = x[i] > 0 ? x[i] : 0 }
        case .gelu:
            for i in range {
                let v = x[i]
                o[i] = 0.5 * v * (1 + tanhf(geluScale * (v + geluCubicCoefficient * v * v * v)))
            }
        }
    }
}

/// dinp += dout · act′(x); with `accumulate: false`, dinp = 0 + that instead (the bits of clearing first),
/// so the caller need not clear dinp (one pass over memory, not two). dinp may be dout (in place).
/// - ReLU: the derivative at 0 is taken as 0; inp may be the ReLU's output instead of its input
///   (x > 0 ⇔ relu(x) > 0). Explicit SIMD with a mask: the scalar `x > 0 ? dy : 0` compiled to a
///   data-dependent branch around the load of dy, so the kernel's speed followed how predictable the signs
///   of x were (OP's MLP input is not normalised, and its backward ran 4.5× slower than Pre-LN's).
/// - GELU: sech² written as 1 − tanh² (no cosh overflow for large |x|).
public func activationBackward(
    _ activation: Activation,
    dinp: UnsafeMutablePointer<Float>,  // (N)
    dout: UnsafePointer<Float>,         // (N)
    inp: UnsafePointer<Float>,          // (N)
    N: Int,
    accumulate: Bool = true
) {
    let (dx, dy, x) = (SendablePointer(dinp), shared(dout), shared(inp))
    Parallel.forEachChunk(count: N, chunkSize: elementChunk) { range in
        switch activation {
        case .relu:
            forEachLane(range) { i in
                let xv = loadVector(x.base + i)
                let local = loadVector(dy.base + i).replacing(with: 0, where: .!(xv .> 0))
                // Adding to +0 without accumulation keeps the bits of "clear, then accumulate" (−0 + 0 = +0).
                let previous = accumulate ? loadVector(dx.base + i) : SIMD16(repeating: 0)
                storeVector(previous + local, dx.base + i)
            } tail: { j in
                let local: Float = x[j] > 0 ? dy[j] : 0
                dx[j] = (accumulate ? dx[j] : 0) + local
            }
        case .gelu:
            for i in range {
                let v = x[i]
                let th = tanhf(geluScale * (v + geluCubicCoefficient * v * v * v))
                let local = 0.5 * (1 + th) + 0.5 * v * (1 - th * th) * geluScale * (1 + 3 * geluCubicCoefficient * v * v)
                dx[i] = (accumulate ? dx[i] : 0) + local * dy[i]
            }
        }
    }
}
