import CBLAS
import OLCore

/// One tensor's SOAP state (a value). Matrices are row-major; Q's column j is basis vector j.
/// Arrays of sides that are not rotated, and of the unused second-moment form, are empty.
struct RotatedState: TensorState {
    var step = 0
    /// Momentum in the rotated basis.                      (rows, cols)
    var m: [Float]
    /// Second moment in the rotated basis (full form).    (rows, cols)
    var v: [Float]
    /// Factored second moment in the rotated basis.       (rows), (cols)
    var r: [Float]
    var c: [Float]
    var ggLeft: [Float] = []   // (rows, rows)
    var ggRight: [Float] = []  // (cols, cols)
    var qLeft: [Float] = []    // (rows, rows)
    var qRight: [Float] = []   // (cols, cols)

    init(route: SOAP.Route) {
        m = Array(repeating: 0, count: route.count)
        v = route.factored ? [] : Array(repeating: 0, count: route.count)
        r = route.factored ? Array(repeating: 0, count: route.rows) : []
        c = route.factored ? Array(repeating: 0, count: route.cols) : []
        if route.left { ggLeft = Array(repeating: 0, count: route.rows * route.rows) }
        if route.right { ggRight = Array(repeating: 0, count: route.cols * route.cols) }
    }

    /// GG_L ← decay·GG_L + weight·g gᵀ, GG_R ← decay·GG_R + weight·gᵀg (decay 0 overwrites).
    /// ssyrk computes the upper triangle, half of sgemm's arithmetic, and it is mirrored, so GG is exactly
    /// symmetric.
    mutating func accumulateStatistics(g: UnsafePointer<Float>, route: SOAP.Route, decay: Float, weight: Float) {
        let rows = route.rows, cols = route.cols
        if route.left {
            cblas_ssyrk(CblasRowMajor, CblasUpper, CblasNoTrans, Int32(rows), Int32(cols), weight, g, Int32(cols), decay, &ggLeft, Int32(rows))
            mirrorUpperTriangle(&ggLeft, n: rows)
        }
        if route.right {
            cblas_ssyrk(CblasRowMajor, CblasUpper, CblasTrans, Int32(cols), Int32(rows), weight, g, Int32(cols), decay, &ggRight, Int32(cols))
            mirrorUpperTriangle(&ggRight, n: cols)
        }
    }

    /// out = Q_Lᵀ x Q_R (x and out distinct; identity on sides that are not rotated).
    func rotateForward(_ x: UnsafePointer<Float>, into out: inout [Float], tmp: inout [Float], route: SOAP.Route) {
        rotate(x, into: &out, tmp: &tmp, route: route, back: false)
    }

    /// out = Q_L x Q_Rᵀ.
    func rotateBack(_ x: UnsafePointer<Float>, into out: inout [Float], tmp: inout [Float], route: SOAP.Route) {
        rotate(x, into: &out, tmp: &tmp, route: route, back: true)
    }

    /// One sgemm per rotated side, the left side first (into `tmp` when both sides are rotated).
    private func rotate(_ x: UnsafePointer<Float>, into out: inout [Float], tmp: inout [Float], route: SOAP.Route, back: Bool) {
        let rows = route.rows, cols = route.cols
        func left(_ x: UnsafePointer<Float>, _ out: inout [Float]) {
            BLAS.sgemm(transposeA: !back, transposeB: false, m: rows, n: cols, k: rows, alpha: 1, a: qLeft, lda: rows, b: x, ldb: cols, beta: 0, c: &out, ldc: cols)
        }
        func right(_ x: UnsafePointer<Float>, _ out: inout [Float]) {
            BLAS.sgemm(transposeA: false, transposeB: back, m: rows, n: cols, k: cols, alpha: 1, a: x, lda: cols, b: qRight, ldb: cols, beta: 0, c: &out, ldc: cols)
        }
        switch (route.left, route.right) {
        case (true, true): left(x, &tmp); right(tmp, &out)
        case (true, false): left(x, &out)
        case (false, true): right(x, &out)
        case (false, false): out.withUnsafeMutableBufferPointer { $0.baseAddress!.update(from: x, count: route.count) }
        }
    }

    /// M ← β₁M + (1−β₁)g';  V ← β₂V + (1−β₂)g'²;  out = M / (√V + ε), in one pass over memory.
    mutating func adamDirection(_ projected: UnsafePointer<Float>, into out: inout [Float], beta1: Double, beta2: Double, eps: Float) {
        let b1 = Float(beta1), c1 = Float(1 - beta1), b2 = Float(beta2), c2 = Float(1 - beta2)
        let gp = SendablePointer(UnsafeMutablePointer(mutating: projected))
        let count = m.count
        m.withUnsafeMutableBufferPointer { mView in
            v.withUnsafeMutableBufferPointer { vView in
                out.withUnsafeMutableBufferPointer { outView in
                    let mp = SendablePointer(mView), vp = SendablePointer(vView), op = SendablePointer(outView)
                    forEachElementChunk(count) { range in
                        for i in range {
                            mp[i] = b1 * mp[i] + c1 * gp[i]
                            vp[i] = b2 * vp[i] + c2 * (gp[i] * gp[i])
                            op[i] = mp[i] / (vp[i].squareRoot() + eps)
                        }
                    }
                }
            }
        }
    }

    /// Row i of V (or r_i) becomes old row order[i].
    mutating func permuteRows(order: [Int], scratch: inout [Float], route: SOAP.Route) {
        permute(rows: true, order: order, scratch: &scratch, route: route)
    }

    /// Column j of V (or c_j) becomes old column order[j].
    mutating func permuteColumns(order: [Int], scratch: inout [Float], route: SOAP.Route) {
        permute(rows: false, order: order, scratch: &scratch, route: route)
    }

    private mutating func permute(rows permutesRows: Bool, order: [Int], scratch: inout [Float], route: SOAP.Route) {
        let rows = route.rows, cols = route.cols
        if route.factored {
            if permutesRows { Self.permute(&r, order: order, scratch: &scratch) } else { Self.permute(&c, order: order, scratch: &scratch) }
            return
        }
        for i in 0..<rows {
            for j in 0..<cols { scratch[i * cols + j] = permutesRows ? v[order[i] * cols + j] : v[i * cols + order[j]] }
        }
        for k in 0..<route.count { v[k] = scratch[k] }
    }

    /// x[i] ← old x[order[i]].
    private static func permute(_ x: inout [Float], order: [Int], scratch: inout [Float]) {
        for i in x.indices { scratch[i] = x[order[i]] }
        for i in x.indices { x[i] = scratch[i] }
    }
}
