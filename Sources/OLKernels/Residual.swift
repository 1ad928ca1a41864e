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
        for i in range { o[i] = xs[i] + beta * br[i] }
    }
}

/// dx += dout, dbranch += beta · dout, dbeta += Σ dout · branch. The β sum runs in Double in index order
/// on one thread, so it is the same for every worker count.
public func residualBackward(
    dx: UnsafeMutablePointer<Float>,        // (N)
    dbranch: UnsafeMutablePointer<Float>,   // (N)
    dbeta: UnsafeMutablePointer<Float>,     // (1)
    dout: UnsafePointer<Float>,             // (N)
    branch: UnsafePointer<Float>,           // (N)
    beta: Float,
    N: Int
) {
    let (dxs, dbr, dy) = (SendablePointer(dx), SendablePointer(dbranch), shared(dout))
    Parallel.forEachChunk(count: N, chunkSize: elementChunk) { range in
        for i in range {
            dxs[i] += dy[i]
            dbr[i] += beta * dy[i]
        }
    }
    var sum = 0.0
    for i in 0..<N { sum += Double(dout[i]) * Double(branch[i]) }
    dbeta[0] += Float(sum)
}
