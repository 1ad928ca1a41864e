/// C = A·B for A (m×k), B (k×n).
func matmul(_ a: [Double], _ b: [Double], _ m: Int, _ k: Int, _ n: Int) -> [Double] {
    var c = [Double](repeating: 0, count: m * n)
    for i in 0..<m { for p in 0..<k { for j in 0..<n { c[i * n + j] += a[i * k + p] * b[p * n + j] } } }
    return c
}

/// Transpose of A (m×n).
func transpose(_ a: [Double], _ m: Int, _ n: Int) -> [Double] {
    var t = [Double](repeating: 0, count: m * n)
    for i in 0..<m { for j in 0..<n { t[j * m + i] = a[i * n + j] } }
    return t
}

/// Symmetric eigendecomposition by cyclic Jacobi rotations: (eigenvalues, eigenvectors as columns).
func jacobiEigen(_ matrix: [Double], _ n: Int) -> (values: [Double], vectors: [Double]) {
    var a = matrix
    var v = [Double](repeating: 0, count: n * n)
    for i in 0..<n { v[i * n + i] = 1 }
    for _ in 0..<100 {
        var off = 0.0
        for i in 0..<n { for j in 0..<n where i != j { off += a[i * n + j] * a[i * n + j] } }
        if off < 1e-30 { break }
        for p in 0..<n {
            for q in (p + 1)..<n where a[p * n + q] != 0 {
                let theta = (a[q * n + q] - a[p * n + p]) / (2 * a[p * n + q])
                let t = (theta >= 0 ? 1.0 : -1.0) / (abs(theta) + (theta * theta + 1).squareRoot())
                let c = 1 / (t * t + 1).squareRoot(), s = t * c
                for k in 0..<n {  // A ← A·J
                    let akp = a[k * n + p], akq = a[k * n + q]
                    a[k * n + p] = c * akp - s * akq
                    a[k * n + q] = s * akp + c * akq
                }
                for k in 0..<n {  // A ← Jᵀ·A
                    let apk = a[p * n + k], aqk = a[q * n + k]
                    a[p * n + k] = c * apk - s * aqk
                    a[q * n + k] = s * apk + c * aqk
                }
                for k in 0..<n {
                    let vkp = v[k * n + p], vkq = v[k * n + q]
                    v[k * n + p] = c * vkp - s * vkq
                    v[k * n + q] = s * vkp + c * vkq
                }
            }
        }
    }
    return ((0..<n).map { a[$0 * n + $0] }, v)
}

/// Q factor of A (n×n) by modified Gram–Schmidt (column signs may differ from Householder's).
func gramSchmidtQ(_ a: [Double], _ n: Int) -> [Double] {
    var q = a
    for j in 0..<n {
        for k in 0..<j {
            var dot = 0.0
            for i in 0..<n { dot += q[i * n + k] * q[i * n + j] }
            for i in 0..<n { q[i * n + j] -= dot * q[i * n + k] }
        }
        var norm = 0.0
        for i in 0..<n { norm += q[i * n + j] * q[i * n + j] }
        norm = norm.squareRoot()
        for i in 0..<n { q[i * n + j] /= norm }
    }
    return q
}

/// Columns multiplied by the sign of their largest-magnitude entry (eigenvectors are defined up to sign).
func signCanonical(_ q: [Double], _ n: Int) -> [Double] {
    var out = q
    for j in 0..<n {
        var best = 0
        for i in 0..<n where abs(q[i * n + j]) > abs(q[best * n + j]) { best = i }
        if q[best * n + j] < 0 { for i in 0..<n { out[i * n + j] = -q[i * n + j] } }
    }
    return out
}
