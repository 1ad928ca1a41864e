import OLCore

/// out = inp · Wᵀ, with W stored (OC, C) as in nn.Linear. No bias: the model has none.
/// Row pieces of `out` on the workers (`BLAS.sgemm(…, parallel: true)`): same bits for any worker count.
public func matmulForward(
    out: UnsafeMutablePointer<Float>,   // (N, OC)
    inp: UnsafePointer<Float>,          // (N, C)
    weight: UnsafePointer<Float>,       // (OC, C)
    N: Int, C: Int, OC: Int
) {
    BLAS.sgemm(transposeA: false, transposeB: true, m: N, n: OC, k: C,
               alpha: 1, a: inp, lda: C, b: weight, ldb: C, beta: 0, c: out, ldc: OC, parallel: true)
}

/// dinp += dout · W and dweight += doutᵀ · inp, each cut into pieces of its own output. With
/// `accumulateInput: false`, dinp = dout · W instead (sgemm with β = 0: dinp need not be cleared first;
/// the values equal clear-then-accumulate, up to the sign of exact zeros).
public func matmulBackward(
    dinp: UnsafeMutablePointer<Float>,      // (N, C)
    dweight: UnsafeMutablePointer<Float>,   // (OC, C)
    dout: UnsafePointer<Float>,             // (N, OC)
    inp: UnsafePointer<Float>,              // (N, C)
    weight: UnsafePointer<Float>,           // (OC, C)
    N: Int, C: Int, OC: Int,
    accumulateInput: Bool = true
) {
    BLAS.sgemm(transposeA: false, transposeB: false, m: N, n: C, k: OC,
               alpha: 1, a: dout, lda: OC, b: weight, ldb: C, beta: accumulateInput ? 1 : 0, c: dinp, ldc: C, parallel: true)
    BLAS.sgemm(transposeA: true, transposeB: false, m: OC, n: C, k: N,
               alpha: 1, a: dout, lda: OC, b: inp, ldb: C, beta: 1, c: dweight, ldc: C, parallel: true)
}
