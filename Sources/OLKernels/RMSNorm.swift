import OLCore

/// RMSNorm's ε (added to the RMS), the default of every RMSNorm in the model; recorded in goldens.
public let rmsNormEpsilon: Float = 1e-5

/// RMSNorm as the paper defines it: out = x / (rms(x) + eps) · weight, rms(x) = √(mean x²).
/// eps is added to the RMS, not inside the square root. Caches rms per row.
public func rmsNormForward(
    out: UnsafeMutablePointer<Float>,   // (N, C)
    rms: UnsafeMutablePointer<Float>,   // (N)
    inp: UnsafePointer<Float>,          // (N, C)
    weight: UnsafePointer<Float>,       // (C)
    N: Int, C: Int, eps: Float = rmsNormEpsilon
) {
    let (o, r, x, w) = (SendablePointer(out), SendablePointer(rms), shared(inp), shared(weight))
    forEachRowChunk(N: N, C: C) { rows in
        for row in rows {
            r[row] = rmsNormRowForward(out: o.base + row * C, inp: x.base + row * C, weight: w.base,
                                       count: C, eps: eps)
        }
    }
}

/// dinp += ∂L/∂x and dweight += Σ_rows dout · x/(rms + eps), summed in row order on one thread
/// beside the row chunks of dinp.
public func rmsNormBackward(
    dinp: UnsafeMutablePointer<Float>,      // (N, C)
    dweight: UnsafeMutablePointer<Float>,   // (C)
    dout: UnsafePointer<Float>,             // (N, C)
    inp: UnsafePointer<Float>,              // (N, C)
    weight: UnsafePointer<Float>,           // (C)
    rms: UnsafePointer<Float>,              // (N)
    N: Int, C: Int, eps: Float = rmsNormEpsilon
) {
    let (dx, dy, x, w, r) = (SendablePointer(dinp), shared(dout), shared(inp), shared(weight), shared(rms))
    let dw = SendablePointer(dweight)
    // dweight (over all rows in order, one thread) beside the row chunks of dinp.
    forEachChunk(count: N, chunkSize: rowChunk(C), besides: {
        for row in 0..<N {
            let xr = x.base + row * C, dyr = dy.base + row * C
            let s = 1 / (r[row] + eps)
            for i in 0..<C { dw[i] += dyr[i] * xr[i] * s }
        }
    }) { rows in
        for row in rows {
            rmsNormRowBackward(dinp: dx.base + row * C, dout: dy.base + row * C, inp: x.base + row * C,
                               weight: w.base, rms: r[row], count: C, eps: eps)
        }
    }
}

/// One RMSNorm row (also used per head by QK-norm); returns the row's RMS.
@inline(__always) func rmsNormRowForward(
    out: UnsafeMutablePointer<Float>, inp: UnsafePointer<Float>, weight: UnsafePointer<Float>,
    count: Int, eps: Float
) -> Float {
    var sq: Float = 0
    for i in 0..<count { sq += inp[i] * inp[i] }
    let r = (sq / Float(count)).squareRoot()
    let s = 1 / (r + eps)
    for i in 0..<count { out[i] = inp[i] * s * weight[i] }
    return r
}

/// dinp += ∂L/∂x for one RMSNorm row: with s = 1/(r + eps),
/// dx_i = s·g_i·dy_i − s² · (Σ_j g_j dy_j x_j) · x_i / (count · r); the second term vanishes when r = 0.
@inline(__always) func rmsNormRowBackward(
    dinp: UnsafeMutablePointer<Float>, dout: UnsafePointer<Float>, inp: UnsafePointer<Float>,
    weight: UnsafePointer<Float>, rms r: Float, count: Int, eps: Float
) {
    let s = 1 / (r + eps)
    var dot: Float = 0
    for i in 0..<count { dot += weight[i] * dout[i] * inp[i] }
    let k = r > 0 ? s * s * dot / (Float(count) * r) : 0
    for i in 0..<count { dinp[i] += s * weight[i] * dout[i] - k * inp[i] }
}
