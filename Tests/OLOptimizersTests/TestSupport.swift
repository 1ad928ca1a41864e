import OLCore
import Testing
@testable import OLOptimizers

/// Parameter and gradient arenas for `specs`, parameters N(0, 1) from a seeded test stream.
struct Problem {
    let layout: ArenaLayout
    let parameters: FloatArena
    let gradients: FloatArena
    var stream: RandomStream

    init(_ specs: [TensorSpec], seed: UInt64 = 1) {
        layout = ArenaLayout(specs)
        parameters = FloatArena(layout: layout)
        gradients = FloatArena(layout: layout)
        stream = RandomStream(seed: seed, purpose: "tests")
        for index in specs.indices { stream.fillNormal(parameters.view(index), std: 1) }
    }

    /// Fills every gradient with N(0, std²) draws.
    mutating func drawGradients(std: Double = 1) {
        for index in layout.specs.indices { stream.fillNormal(gradients.view(index), std: std) }
    }

    func values(_ name: String) -> [Double] { parameters.view(name).map(Double.init) }
    func gradient(_ name: String) -> [Double] { gradients.view(name).map(Double.init) }
}

/// The exported state tensor `name` as Doubles.
func stateValues(_ state: [NamedTensor], _ name: String, sourceLocation: SourceLocation = #_sourceLocation) throws -> [Double] {
    let tensor = try #require(state.first { $0.name == name }, "no state tensor \(name)", sourceLocation: sourceLocation)
    let floats = try #require(tensor.floats, "\(name) is not F32", sourceLocation: sourceLocation)
    return floats.map(Double.init)
}

/// numpy-style closeness |a − e| ≤ atol + rtol·|e|, reporting the worst element.
func expectClose(_ actual: [Double], _ expected: [Double], rtol: Double = 0, atol: Double,
                 _ what: String, sourceLocation: SourceLocation = #_sourceLocation) {
    #expect(actual.count == expected.count, "\(what): \(actual.count) values, expected \(expected.count)", sourceLocation: sourceLocation)
    var mismatches = 0, worst = 0.0, worstIndex = 0
    for (i, (a, e)) in zip(actual, expected).enumerated() {
        let excess = abs(a - e) - (atol + rtol * abs(e))
        if !(excess <= 0) { mismatches += 1 }
        if !(excess <= worst) { worst = excess.isNaN ? .infinity : excess; worstIndex = i }
    }
    #expect(mismatches == 0, """
        \(what): mismatched elements \(mismatches) / \(expected.count); worst at \(worstIndex): \
        actual \(actual[worstIndex]) vs expected \(expected[worstIndex]) (atol \(atol), rtol \(rtol))
        """, sourceLocation: sourceLocation)
}

/// Bit patterns, so that −0 ≠ +0 and NaN == NaN count as the bitwise comparison they are.
func bits(_ values: UnsafeMutableBufferPointer<Float>) -> [UInt32] { values.map(\.bitPattern) }

func bits(_ tensors: [NamedTensor]) -> [String: [UInt64]] {
    var result = [String: [UInt64]]()
    for tensor in tensors {
        switch tensor.values {
        case .float32(let v): result[tensor.name] = v.map { UInt64($0.bitPattern) }
        case .float64(let v): result[tensor.name] = v.map(\.bitPattern)
        case .int64(let v): result[tensor.name] = v.map { UInt64(bitPattern: $0) }
        case .uint8(let v): result[tensor.name] = v.map(UInt64.init)
        case .int8(let v): result[tensor.name] = v.map { UInt64(UInt8(bitPattern: $0)) }
        }
    }
    return result
}

// MARK: - Plain Double linear algebra for references (row-major n×n unless stated)

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
