import CBLAS
import OLCore

/// C = alpha · op(A) · op(B) + beta · C for row-major matrices, where op(X) is X or Xᵀ.
/// op(A) is (m, k), op(B) is (k, n), C is (m, n); lda/ldb/ldc are the row strides of the stored matrices.
/// One wrapper for every transpose case, so attention and the optimisers share the same BLAS entry point.
public func sgemm(
    transposeA: Bool, transposeB: Bool,
    m: Int, n: Int, k: Int,
    alpha: Float,
    a: UnsafePointer<Float>, lda: Int,
    b: UnsafePointer<Float>, ldb: Int,
    beta: Float,
    c: UnsafeMutablePointer<Float>, ldc: Int
) {
    guard m > 0, n > 0 else { return }
    cblas_sgemm(
        CblasRowMajor,
        transposeA ? CblasTrans : CblasNoTrans,
        transposeB ? CblasTrans : CblasNoTrans,
        Int32(m), Int32(n), Int32(k),
        alpha, a, Int32(lda), b, Int32(ldb),
        beta, c, Int32(ldc)
    )
}

/// out = inp · Wᵀ, with W stored (OC, C) as in nn.Linear. No bias: the model has none.
public func matmulForward(
    out: UnsafeMutablePointer<Float>,   // (N, OC)
    inp: UnsafePointer<Float>,          // (N, C)
    weight: UnsafePointer<Float>,       // (OC, C)
    N: Int, C: Int, OC: Int
) {
    sgemm(transposeA: false, transposeB: true, m: N, n: OC, k: C,
          alpha: 1, a: inp, lda: C, b: weight, ldb: C, beta: 0, c: out, ldc: OC)
}

/// dinp += dout · W and dweight += doutᵀ · inp.
public func matmulBackward(
    dinp: UnsafeMutablePointer<Float>,      // (N, C)
    dweight: UnsafeMutablePointer<Float>,   // (OC, C)
    dout: UnsafePointer<Float>,             // (N, OC)
    inp: UnsafePointer<Float>,              // (N, C)
    weight: UnsafePointer<Float>,           // (OC, C)
    N: Int, C: Int, OC: Int
) {
    sgemm(transposeA: false, transposeB: false, m: N, n: C, k: OC,
          alpha: 1, a: dout, lda: OC, b: weight, ldb: C, beta: 1, c: dinp, ldc: C)
    sgemm(transposeA: true, transposeB: false, m: OC, n: C, k: N,
          alpha: 1, a: dout, lda: OC, b: inp, ldb: C, beta: 1, c: dweight, ldc: C)
}

/// Runs `body` with OpenBLAS limited to one thread while our own workers run in parallel, so that each
/// worker's small sgemms stay on its core instead of waking OpenBLAS's threads on the same two cores
/// (measured: attention 470 → 70 ms per step). sgemm gives the same bits for any OpenBLAS thread count.
func withSingleThreadedBLAS(_ body: () -> Void) {
    guard Parallel.workerCount > 1 else { return body() }
    BLASInfo.withSingleThread(body)
}
