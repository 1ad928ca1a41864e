import OLCore

/// Scratch buffers and LAPACK solvers, sized once for the largest tensor: not state, never exported.
struct SOAPWorkspace: Sendable {
    var projected: [Float]   // g' (rows, cols)
    var direction: [Float]   // M / (√V + ε) (rows, cols)
    var update: [Float]      // u (rows, cols)
    var original: [Float]    // M in the original basis (rows, cols)
    var tmp: [Float]         // gemm intermediate / permutation scratch (rows, cols)
    var rowScale: [Float]    // r / mean(r) (rows)
    var columnSums: [Double] // (cols)
    var a64: [Double]        // LAPACK matrix, column-major (n, n), leading dimension n or the QR's padded one
    var power: [Float]       // GG·Q, row-major (n, n)
    var a32: [Float]         // refresh QR input/output, column-major (n, n), padded leading dimension
    var transposed: [Float]  // (GG·Q)ᵀ, row-major (n, n)
    var estimates: [Double]  // est_j (n)
    var order: [Int]         // refresh permutation (n)
    var eigensolvers: [Int: SymmetricEigensolver] = [:]
    var factorizers: [Int: HouseholderQR<Double>] = [:]
    var floatFactorizers: [Int: HouseholderQR<Float>] = [:]
    var lapackCalls = 0

    init(routes: [SOAP.Route]) {
        let maxCount = max(1, routes.map { max($0.count, $0.rows, $0.cols) }.max() ?? 1)
        let maxSide = max(1, routes.map { max($0.left ? $0.rows : 1, $0.right ? $0.cols : 1) }.max() ?? 1)
        projected = Array(repeating: 0, count: maxCount)
        direction = projected
        update = projected
        original = projected
        tmp = projected
        rowScale = Array(repeating: 0, count: max(1, routes.map(\.rows).max() ?? 1))
        columnSums = Array(repeating: 0, count: max(1, routes.map(\.cols).max() ?? 1))
        let paddedSide = HouseholderQR<Float>.leadingDimension(maxSide)
        a64 = Array(repeating: 0, count: maxSide * paddedSide)
        power = Array(repeating: 0, count: maxSide * maxSide)
        a32 = Array(repeating: 0, count: maxSide * paddedSide)
        transposed = power
        estimates = Array(repeating: 0, count: maxSide)
        order = Array(0..<maxSide)
    }

    /// Bytes of the buffers above (the LAPACK solvers' own work arrays are not counted).
    var bytes: Int {
        let floats = [projected, direction, update, original, tmp, rowScale, power, a32, transposed].reduce(0) { $0 + $1.count }
        return floats * MemoryLayout<Float>.size + (columnSums.count + a64.count + estimates.count) * MemoryLayout<Double>.size
            + order.count * MemoryLayout<Int>.size
    }

    /// W ← W − α·u, with u from `update` (rotated tensors) or `direction` (unrotated).
    func applyUpdate(_ w: UnsafeMutableBufferPointer<Float>, alpha: Float, fromUpdate: Bool) {
        let source = fromUpdate ? update : direction
        source.withUnsafeBufferPointer { sourceView in
            let up = SendablePointer(UnsafeMutablePointer(mutating: sourceView.baseAddress!)), wp = SendablePointer(w)
            forEachElementChunk(w.count) { range in
                for i in range { wp[i] = wp[i] - alpha * up[i] }
            }
        }
    }

    /// Eigenvectors of GG + 1e-30·I (n×n) in Double, columns by descending eigenvalue, rounded to Float.
    mutating func eigenbasis(_ gg: [Float], n: Int, context: String) throws -> [Float] {
        for j in 0..<n {
            for i in 0..<n { a64[i + j * n] = Double(gg[i * n + j]) }
            a64[j + j * n] += OptimizerConstants.eigenRegulariser
        }
        if eigensolvers[n] == nil { eigensolvers[n] = try SymmetricEigensolver(n: n) }
        lapackCalls += 1
        try eigensolvers[n]!.solve(&a64, context: context)
        var q = [Float](repeating: 0, count: n * n)
        // LAPACK's eigenvalues ascend: column j of the result is column n−1−j of LAPACK's (torch.flip).
        for j in 0..<n { for i in 0..<n { q[i * n + (n - 1 - j)] = Float(a64[i + j * n]) } }
        return q
    }

    /// Haar-random orthogonal n×n matrix: the sign-corrected Q factor of a QR of an n×n standard-normal
    /// matrix drawn from `purpose` under `seed`.
    mutating func randomBasis(n: Int, seed: UInt64, purpose: String) throws -> [Float] {
        var stream = RandomStream(seed: seed, purpose: purpose)
        if factorizers[n] == nil { factorizers[n] = try HouseholderQR<Double>(n: n) }
        let lda = factorizers[n]!.lda
        for j in 0..<n { for i in 0..<n { a64[i + j * lda] = stream.nextNormal() } }  // column-major fill
        lapackCalls += 1
        try factorizers[n]!.haarOrthogonalFactor(&a64, context: purpose)
        var q = [Float](repeating: 0, count: n * n)
        for j in 0..<n { for i in 0..<n { q[i * n + j] = Float(a64[i + j * lda]) } }
        return q
    }

    /// One refresh of a side: est_j = (QᵀGGQ)_jj, stable descending sort into `order`, Q ← QR(GG·Q[:, order]).Q.
    /// Float32 like the official soap.py: GG·Q by one single-threaded sgemm, the
    /// estimates summed in Double, the QR by sgeqrf/sorgqr on one thread.
    mutating func refresh(q: inout [Float], gg: [Float], n: Int, context: String) throws {
        gg.withUnsafeBufferPointer { g in
            q.withUnsafeBufferPointer { qv in
                power.withUnsafeMutableBufferPointer { p in
                    BLAS.sgemm(transposeA: false, transposeB: false, m: n, n: n, k: n, alpha: 1, a: g.baseAddress!, lda: n, b: qv.baseAddress!, ldb: n, beta: 0, c: p.baseAddress!, ldc: n)
                }
            }
        }
        // est_j = Σ_i Q_ij·P_ij, summed over i in ascending order; rows outermost so both reads are contiguous.
        for j in 0..<n { estimates[j] = 0; order[j] = j }
        q.withUnsafeBufferPointer { qv in
            power.withUnsafeBufferPointer { pv in
                estimates.withUnsafeMutableBufferPointer { est in
                    for i in 0..<n {
                        let qRow = qv.baseAddress! + i * n, pRow = pv.baseAddress! + i * n
                        for j in 0..<n { est[j] += Double(qRow[j]) * Double(pRow[j]) }
                    }
                }
            }
        }
        estimates.withUnsafeBufferPointer { est in
            order.withUnsafeMutableBufferPointer { orderView in
                orderView[0..<n].sort { a, b in est[a] > est[b] || (est[a] == est[b] && a < b) }
            }
        }
        // Column j of the column-major QR input is column order[j] of P, i.e. row order[j] of Pᵀ.
        if floatFactorizers[n] == nil { floatFactorizers[n] = try HouseholderQR<Float>(n: n) }
        let lda = floatFactorizers[n]!.lda
        transposeTiled(power, rows: n, cols: n, stride: n, into: &transposed)
        transposed.withUnsafeBufferPointer { t in
            a32.withUnsafeMutableBufferPointer { a in
                for j in 0..<n { (a.baseAddress! + j * lda).update(from: t.baseAddress! + order[j] * n, count: n) }
            }
        }
        lapackCalls += 1
        try floatFactorizers[n]!.orthogonalFactor(&a32, context: context)
        // The column-major Q, read as a row-major matrix with row stride lda, is Qᵀ.
        transposeTiled(a32, rows: n, cols: n, stride: lda, into: &q)
    }

}

/// Copies the upper triangle of the row-major n×n `a` onto its lower triangle, in 8×8 tiles (see
/// `transposeTiled`).
func mirrorUpperTriangle(_ a: inout [Float], n: Int) {
    let tile = 8
    a.withUnsafeMutableBufferPointer { view in
        let p = view.baseAddress!
        for i0 in stride(from: 0, to: n, by: tile) {
            for j0 in stride(from: 0, through: i0, by: tile) {
                for i in i0..<min(i0 + tile, n) {
                    for j in j0..<min(j0 + tile, i) { p[i * n + j] = p[j * n + i] }
                }
            }
        }
    }
}

/// out[j·rows + i] = x[i·stride + j]: the transpose of the row-major rows×cols `x` (rows `stride` apart),
/// in 8×8 tiles. Tiles keep the strided side in cache; with power-of-two row lengths a larger tile maps
/// every row to the same cache set and is several times slower.
func transposeTiled(_ x: [Float], rows: Int, cols: Int, stride rowStride: Int, into out: inout [Float]) {
    let tile = 8
    x.withUnsafeBufferPointer { xv in
        out.withUnsafeMutableBufferPointer { ov in
            let src = xv.baseAddress!, dst = ov.baseAddress!
            for i0 in stride(from: 0, to: rows, by: tile) {
                for j0 in stride(from: 0, to: cols, by: tile) {
                    for i in i0..<min(i0 + tile, rows) {
                        for j in j0..<min(j0 + tile, cols) { dst[j * rows + i] = src[i * rowStride + j] }
                    }
                }
            }
        }
    }
}
