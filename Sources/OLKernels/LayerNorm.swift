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
        forEachRowGroup(rows) { row, group in
            // Each row's sums are one float chain in index order; the rows of a group run side by side.
            let mu = rowSums(group, count: C) { g, i in x[(row + g) * C + i] } / Float(C)
            let sq = rowSums(group, count: C) { g, i in let d = x[(row + g) * C + i] - mu[g]; return d * d }
            let s = 1 / (sq / Float(C) + eps).squareRoot()
            for g in 0..<group {
                let xr = x.base + (row + g) * C, orow = o.base + (row + g) * C
                let (mug, sg) = (mu[g], s[g])
                forEachLane(C) { i in storeVector((loadVector(xr + i) - SIMD16(repeating: mug)) * SIMD16(repeating: sg) * loadVector(w.base + i) + loadVector(b.base + i), orow + i) }
                    tail: { i in orow[i] = (xr[i] - mug) * sg * w[i] + b[i] }
                m[row + g] = mug
                r[row + g] = sg
            }
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
        forEachRowGroup(rows) { row, group in
            let (mu, s) = (SIMD4(lanes: group) { m[row + $0] }, SIMD4(lanes: group) { r[row + $0] })
            let (dnormSum, dnormNormSum) = rowSumPairs(group, count: C) { g, i in
                let dnorm = w[i] * dy[(row + g) * C + i]
                return (dnorm, dnorm * (x[(row + g) * C + i] - mu[g]) * s[g])
            }
            let (dnormMean, dnormNormMean) = (dnormSum / Float(C), dnormNormSum / Float(C))
            for g in 0..<group {
                let xr = x.base + (row + g) * C, dyr = dy.base + (row + g) * C, dxr = dx.base + (row + g) * C
                let (mug, sg, a, c) = (mu[g], s[g], dnormMean[g], dnormNormMean[g])
                forEachLane(C) { i in
                    let norm = (loadVector(xr + i) - SIMD16(repeating: mug)) * SIMD16(repeating: sg)
                    let local = loadVector(w.base + i) * loadVector(dyr + i) - SIMD16(repeating: a) - norm * SIMD16(repeating: c)
                    storeVector(loadVector(dxr + i) + SIMD16(repeating: sg) * local, dxr + i)
                } tail: { i in
                    let norm = (xr[i] - mug) * sg
                    dxr[i] += sg * (w[i] * dyr[i] - a - norm * c)
                }
            }
        }
    }
}
