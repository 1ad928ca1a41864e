import CVectorMath
import OLCore

/// LayerNorm's ε (added to the biased variance), the default of every LayerNorm in the model. Goldens
/// record this value and the NumPy replay reads it from them, so changing it here is the whole change.
public let layerNormEpsilon: Float = 1e-5

/// LayerNorm over the last axis: out = (x − mean) · rstd · weight + bias, rstd = 1/√(var + eps) with the
/// biased variance. Caches mean and rstd per row for the backward.
public func layerNormForward(
    out: UnsafeMutablePointer<Float>,   // (N, C)
    mean: UnsafeMutablePointer<Float>,  // (N)
    rstd: UnsafeMutablePointer<Float>,  // (N)
    inp: UnsafePointer<Float>,          // (N, C)
    weight: UnsafePointer<Float>,       // (C)
    bias: UnsafePointer<Float>,         // (C)
    N: Int, C: Int, eps: Float = layerNormEpsilon
) {
    let (o, m, r, x, w, b) = (SendablePointer(out), SendablePointer(mean), SendablePointer(rstd),
                              shared(inp), shared(weight), shared(bias))
    forEachRowChunk(N: N, C: C) { rows in
        // Each row's sums are one float chain in index order (`olab_row_sums`: eight rows side by side);
        // mean and rstd hold the sums until they are turned into the statistics.
        let (first, count) = (rows.lowerBound, Int32(rows.count))
        olab_row_sums(x.base + first * C, C, count, Int32(C), m.base + first)
        for row in rows { m[row] = m[row] / Float(C) }
        olab_row_centred_square_sums(x.base + first * C, C, count, Int32(C), m.base + first, r.base + first)
        for row in rows {
            let s = 1 / (r[row] / Float(C) + eps).squareRoot()
            let xr = x.base + row * C, orow = o.base + row * C, mu = m[row]
            forEachLane(C) { i in storeVector((loadVector(xr + i) - SIMD16(repeating: mu)) * SIMD16(repeating: s) * loadVector(w.base + i) + loadVector(b.base + i), orow + i) }
                tail: { i in orow[i] = (xr[i] - mu) * s * w[i] + b[i] }
            r[row] = s
        }
    }
}

/// dinp += ∂L/∂x, dweight += Σ_rows dout·x̂, dbias += Σ_rows dout, with x̂ = (x − mean)·rstd:
/// dx = rstd · (dx̂ − mean(dx̂) − x̂ · mean(dx̂ · x̂)), dx̂ = weight · dout.
/// Parameter gradients are summed over rows in index order on one thread (deterministic), beside the
/// row chunks of dinp on the other workers.
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
    let (dw, db) = (SendablePointer(dweight), SendablePointer(dbias))
    // The parameter gradients (over all rows in order, one thread) beside the row chunks of dinp.
    forEachChunk(count: N, chunkSize: rowChunk(C), besides: {
        let (dweight, dbias, inp, dout, mean, rstd) = (dw.base, db.base, x.base, dy.base, m.base, r.base)
        for row in 0..<N {
            let xr = inp + row * C, dyr = dout + row * C
            let mu = mean[row], s = rstd[row]
            forEachLane(C) { i in
                let dy = loadVector(dyr + i)
                storeVector(loadVector(dweight + i) + (loadVector(xr + i) - SIMD16(repeating: mu)) * SIMD16(repeating: s) * dy, dweight + i)
                storeVector(loadVector(dbias + i) + dy, dbias + i)
            } tail: { i in
                dweight[i] += (xr[i] - mu) * s * dyr[i]
                dbias[i] += dyr[i]
            }
        }
    }) { rows in
        let (first, count) = (rows.lowerBound, rows.count)
        withUnsafeTemporaryAllocation(of: Float.self, capacity: 2 * count) { sums in
            let (dnormSums, dnormNormSums) = (sums.baseAddress!, sums.baseAddress! + count)
            olab_layernorm_backward_sums(x.base + first * C, C, dy.base + first * C, C, Int32(count), Int32(C), w.base,
                                         m.base + first, r.base + first, dnormSums, dnormNormSums)
            for row in rows {
                let xr = x.base + row * C, dyr = dy.base + row * C, dxr = dx.base + row * C
                let (mu, s) = (m[row], r[row])
                let (a, c) = (dnormSums[row - first] / Float(C), dnormNormSums[row - first] / Float(C))
                forEachLane(C) { i in
                    let norm = (loadVector(xr + i) - SIMD16(repeating: mu)) * SIMD16(repeating: s)
                    let local = loadVector(w.base + i) * loadVector(dyr + i) - SIMD16(repeating: a) - norm * SIMD16(repeating: c)
                    storeVector(loadVector(dxr + i) + SIMD16(repeating: s) * local, dxr + i)
                } tail: { i in
                    let norm = (xr[i] - mu) * s
                    dxr[i] += s * (w[i] * dyr[i] - a - norm * c)
                }
            }
        }
    }
}
