import Foundation

/// SOAP for one tensor, written plainly in Double from OLOptimizers' Optimizers article, *SOAP's step* (the official soap.py's order of
/// operations, including rotating M back and forward on every step). Sides that are not rotated use
/// the identity. Eigenvectors by Jacobi, refresh QR by Gram–Schmidt: their column signs may differ from
/// LAPACK's, which the update does not see.
struct ReferenceSOAP {
    let rows: Int, cols: Int, left: Bool, right: Bool
    let lr: Double, beta1: Double, beta2: Double, shampooBeta: Double, eps: Double, weightDecay: Double, frequency: Int
    var w: [Double]
    var step = 0
    var initialised = false
    var m: [Double], v: [Double]
    var ggL: [Double], ggR: [Double], qL: [Double], qR: [Double]

    init(w: [Double], rows: Int, cols: Int, left: Bool, right: Bool, lr: Double, beta1: Double, beta2: Double,
         eps: Double, weightDecay: Double, frequency: Int) {
        self.w = w; self.rows = rows; self.cols = cols; self.left = left; self.right = right
        self.lr = lr; self.beta1 = beta1; self.beta2 = beta2; shampooBeta = beta2; self.eps = eps
        self.weightDecay = weightDecay; self.frequency = frequency
        m = Array(repeating: 0, count: rows * cols); v = m
        ggL = Array(repeating: 0, count: rows * rows); ggR = Array(repeating: 0, count: cols * cols)
        qL = identity(rows); qR = identity(cols)
    }

    mutating func call(gradient g: [Double]) {
        if !initialised {
            initialised = true
            accumulate(g)
            if left { qL = eigenvectorsDescending(ggL, rows) }
            if right { qR = eigenvectorsDescending(ggR, cols) }
            return
        }
        let projected = matmul(matmul(transpose(qL, rows, rows), g, rows, rows, cols), qR, rows, cols, cols)
        step += 1
        for k in m.indices {
            m[k] = beta1 * m[k] + (1 - beta1) * projected[k]
            v[k] = beta2 * v[k] + (1 - beta2) * projected[k] * projected[k]
        }
        let direction = m.indices.map { m[$0] / (v[$0].squareRoot() + eps) }
        let update = matmul(matmul(qL, direction, rows, rows, cols), transpose(qR, cols, cols), rows, cols, cols)
        let t = Double(step)
        let alpha = lr * (1 - pow(beta2, t)).squareRoot() / (1 - pow(beta1, t))
        for k in w.indices { w[k] -= alpha * update[k] }
        for k in w.indices { w[k] -= lr * weightDecay * w[k] }
        guard left || right else { return }
        let original = matmul(matmul(qL, m, rows, rows, cols), transpose(qR, cols, cols), rows, cols, cols)
        accumulate(g)
        if step % frequency == 0 {
            if left {
                let order = sortedByEstimate(ggL, qL, rows)
                v = (0..<(rows * cols)).map { v[order[$0 / cols] * cols + $0 % cols] }
                qL = gramSchmidtQ(matmul(ggL, permuteColumns(qL, rows, order), rows, rows, rows), rows)
            }
            if right {
                let order = sortedByEstimate(ggR, qR, cols)
                v = (0..<(rows * cols)).map { v[($0 / cols) * cols + order[$0 % cols]] }
                qR = gramSchmidtQ(matmul(ggR, permuteColumns(qR, cols, order), cols, cols, cols), cols)
            }
        }
        m = matmul(matmul(transpose(qL, rows, rows), original, rows, rows, cols), qR, rows, cols, cols)
    }

    private mutating func accumulate(_ g: [Double]) {
        let outerL = matmul(g, transpose(g, rows, cols), rows, cols, rows)
        let outerR = matmul(transpose(g, rows, cols), g, cols, rows, cols)
        if left { for k in ggL.indices { ggL[k] = shampooBeta * ggL[k] + (1 - shampooBeta) * outerL[k] } }
        if right { for k in ggR.indices { ggR[k] = shampooBeta * ggR[k] + (1 - shampooBeta) * outerR[k] } }
    }
}

func identity(_ n: Int) -> [Double] { (0..<(n * n)).map { $0 / n == $0 % n ? 1 : 0 } }

/// Eigenvectors of a symmetric matrix as columns, by descending eigenvalue.
func eigenvectorsDescending(_ a: [Double], _ n: Int) -> [Double] {
    let (values, vectors) = jacobiEigen(a, n)
    let order = (0..<n).sorted { values[$0] > values[$1] }
    return permuteColumns(vectors, n, order)
}

/// Column j of the result is column order[j] of q.
func permuteColumns(_ q: [Double], _ n: Int, _ order: [Int]) -> [Double] {
    (0..<(n * n)).map { q[($0 / n) * n + order[$0 % n]] }
}

/// Column order by est_j = (Qᵀ GG Q)_jj, descending, ties by lower index.
func sortedByEstimate(_ gg: [Double], _ q: [Double], _ n: Int) -> [Int] {
    let product = matmul(matmul(transpose(q, n, n), gg, n, n, n), q, n, n, n)
    let est = (0..<n).map { product[$0 * n + $0] }
    return (0..<n).sorted { est[$0] > est[$1] || (est[$0] == est[$1] && $0 < $1) }
}
