import OLCore

/// SRMSNorm (parameter-free): out = x·√C/‖x‖ = x / rms(x). Caches rstd = 1/rms per row.
/// An all-zero row has no direction; it maps to zero (rstd cached as 0) instead of NaN.
public func srmsNormForward(
    out: UnsafeMutablePointer<Float>,   // (N, C)
    rstd: UnsafeMutablePointer<Float>,  // (N)
    inp: UnsafePointer<Float>,          // (N, C)
    N: Int, C: Int
) {
    let (o, r, x) = (SendablePointer(out), SendablePointer(rstd), shared(inp))
    forEachRowChunk(N: N, C: C) { rows in
        for row in rows {
            let xr = x.base + row * C, orow = o.base + row * C
            var sq: Float = 0
            for i in 0..<C { sq += xr[i] * xr[i] }
            let rms = (sq / Float(C)).squareRoot()
            let s: Float = rms > 0 ? 1 / rms : 0
            for i in 0..<C { orow[i] = xr[i] * s }
            r[row] = s
        }
    }
}

/// dinp += rstd · (dout − x · rstd² · mean(dout · x)).
public func srmsNormBackward(
    dinp: UnsafeMutablePointer<Float>,  // (N, C)
    dout: UnsafePointer<Float>,         // (N, C)
    inp: UnsafePointer<Float>,          // (N, C)
    rstd: UnsafePointer<Float>,         // (N)
    N: Int, C: Int
) {
    let (dx, dy, x, r) = (SendablePointer(dinp), shared(dout), shared(inp), shared(rstd))
    forEachRowChunk(N: N, C: C) { rows in
        for row in rows {
            let xr = x.base + row * C, dyr = dy.base + row * C, dxr = dx.base + row * C
            let s = r[row]
            var dot: Float = 0
            for i in 0..<C { dot += dyr[i] * xr[i] }
            let k = s * s * dot / Float(C)
            for i in 0..<C { dxr[i] += s * (dyr[i] - xr[i] * k) }
        }
    }
}
