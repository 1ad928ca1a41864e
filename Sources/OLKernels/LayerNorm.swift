import OLCore

/// LayerNorm over the last axis: out = (x − mean) · rstd · weight + bias, rstd = 1/√(var + eps) with the
/// biased variance. Caches mean and rstd per row for the backward.
public func layerNormForward(
    out: UnsafeMutablePointer<Float>,   // (N, C)
    mean: UnsafeMutablePointer<Float>,  // (N)
    rstd: UnsafeMutablePointer<Float>,  // (N)
    inp: UnsafePointer<Float>,          // (N, C)
    weight: UnsafePointer<Float>,       // (C)
    bias: UnsafePointer<Float>,         // (C)
    N: Int, C: Int, eps: Float = 1e-5
) {
    let (o, m, r, x, w, b) = (SendablePointer(out), SendablePointer(mean), SendablePointer(rstd),
                              shared(inp), shared(weight), shared(bias))
    forEachRowChunk(N: N, C: C) { rows in
        for row in rows {
            let xr = x.base + row * C, orow = o.base + row * C
            var sum: Float = 0
            for i in 0..<C { sum += xr[i] }
            let mu = sum / Float(C)
            var sq: Float = 0
            for i in 0..<C { let d = xr[i] - mu; sq += d * d }
            let s = 1 / (sq / Float(C) + eps).squareRoot()
            for i in 0..<C { orow[i] = (xr[i] - mu) * s * w[i] + b[i] }
            m[row] = mu
            r[row] = s
        }
    }
}

/// dinp += ∂L/∂x, dweight += Σ_rows dout·x̂, dbias += Σ_rows dout, with x̂ = (x − mean)·rstd:
/// dx = rstd · (dx̂ − mean(dx̂) − x̂ · mean(dx̂ · x̂)), dx̂ = weight · dout.
/// Parameter gradients are summed over rows in index order on one thread (deterministic).
public func layerNormBackward(
    dinp: UnsafeMutablePointer<Float>,      // (N, C)
    dweight: UnsafeMutablePointer<Float>,   // (C)
    dbias: UnsafeMutablePointer<Float>,     // (C)
    dout: UnsafePointer<Float>,             // (N, C)
    inp: UnsafePointer<Float>,              // (N, C)
    weight: UnsafePointer<Float>,           // (C)
    mean: UnsafePointer<Float>,             // (N)
    rstd: UnsafePointer<Float>,             // (N)
    N: Int, C: Int
) {
    let (dx, dy, x, w, m, r) = (SendablePointer(dinp), shared(dout), shared(inp), shared(weight),
                                shared(UnsafePointer(mean)), shared(UnsafePointer(rstd)))
    forEachRowChunk(N: N, C: C) { rows in
        for row in rows {
            let xr = x.base + row * C, dyr = dy.base + row * C, dxr = dx.base + row * C
            let mu = m[row], s = r[row]
            var dnormMean: Float = 0, dnormNormMean: Float = 0
            for i in 0..<C {
                let dnorm = w[i] * dyr[i]
                dnormMean += dnorm
                dnormNormMean += dnorm * (xr[i] - mu) * s
            }
            dnormMean /= Float(C)
            dnormNormMean /= Float(C)
            for i in 0..<C {
                let norm = (xr[i] - mu) * s
                dxr[i] += s * (w[i] * dyr[i] - dnormMean - norm * dnormNormMean)
            }
        }
    }
    for row in 0..<N {
        let xr = inp + row * C, dyr = dout + row * C
        let mu = mean[row], s = rstd[row]
        for i in 0..<C {
            dweight[i] += (xr[i] - mu) * s * dyr[i]
            dbias[i] += dyr[i]
        }
    }
}
