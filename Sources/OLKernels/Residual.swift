import OLCore

/// out = x + beta · branch: the residual add, with the OP block's scalar branch weight (beta = 1 for
/// the other blocks).
public func residualForward(
    out: UnsafeMutablePointer<Float>,   // (N)
    x: UnsafePointer<Float>,            // (N)
    branch: UnsafePointer<Float>,       // (N)
    beta: Float,
    N: Int
) {
    let (o, xs, br) = (SendablePointer(out), shared(x), shared(branch))
    Parallel.forEachChunk(count: N, chunkSize: elementChunk) { range in
        forEachLane(range) { i in
            storeVector(loadVector(xs.base + i) + SIMD16(repeating: beta) * loadVector(br.base + i), o.base + i)
        } tail: { i in o[i] = xs[i] + beta * br[i] }
    }
}

/// dx += dout, dbranch += beta · dout, dbeta += Σ dout · branch. The β sum runs in Double in index order
/// on one thread (beside the element chunks), so it is the same for every worker count; with `dbeta` nil (β not trained) it is not
/// computed. With `accumulate: false`, dx = 0 + dout and dbranch = 0 + beta · dout instead (the bits of
/// clearing first), so the caller need not clear them.
public func residualBackward(
    dx: UnsafeMutablePointer<Float>,        // (N)
    dbranch: UnsafeMutablePointer<Float>,   // (N)
    dbeta: UnsafeMutablePointer<Float>?,    // (1), nil when β is not trained
    dout: UnsafePointer<Float>,             // (N)
    branch: UnsafePointer<Float>,           // (N)
    beta: Float,
    N: Int,
    accumulate: Bool = true
) {
    let (dxs, dbr, dy, br) = (SendablePointer(dx), SendablePointer(dbranch), shared(dout), shared(branch))
    // A local function, not a stored closure: handing it to the loops allocates no context.
    @Sendable func write(_ range: Range<Int>) {
        let (x, b, d) = (dxs.base + range.lowerBound, dbr.base + range.lowerBound, dy.base + range.lowerBound)
        // Adding to +0 without accumulation keeps the bits of "clear, then accumulate" (−0 + 0 = +0).
        forEachLane(range.count) { i in
            let g = loadVector(d + i)
            storeVector((accumulate ? loadVector(x + i) : SIMD16(repeating: 0)) + g, x + i)
            storeVector((accumulate ? loadVector(b + i) : SIMD16(repeating: 0)) + SIMD16(repeating: beta) * g, b + i)
        } tail: { i in
            x[i] = (accumulate ? x[i] : 0) + d[i]
            b[i] = (accumulate ? b[i] : 0) + beta * d[i]
        }
    }
    guard let dbeta else { return Parallel.forEachChunk(count: N, chunkSize: elementChunk, write) }
    // The β sum (over all elements in order, one thread) beside the element chunks.
    let betaGradient = SendablePointer(dbeta)
    forEachChunk(count: N, chunkSize: elementChunk, besides: {
        var sum = 0.0
        for i in 0..<N { sum += Double(dy[i]) * Double(br[i]) }
        betaGradient[0] += Float(sum)
    }, write)
}
