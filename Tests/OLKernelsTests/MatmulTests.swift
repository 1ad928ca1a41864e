import Testing
@testable import OLKernels

@Suite("Matmul and sgemm")
struct MatmulTests {
    @Test("matmul matches the Double reference and its finite-difference gradients", arguments: MatmulShape.all)
    func matmulMatchesReference(shape: MatmulShape) {
        check(Cases.matmul(N: shape.N, C: shape.C, OC: shape.OC, seed: UInt64(shape.N * 100 + shape.C)))
    }

    struct GemmCase: Sendable, CustomTestStringConvertible {
        var transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int
        var testDescription: String { "A\(transposeA ? "ᵀ" : "")·B\(transposeB ? "ᵀ" : "") m=\(m) n=\(n) k=\(k)" }
        static let all = [(false, false), (false, true), (true, false), (true, true)].flatMap { ta, tb in
            [GemmCase(transposeA: ta, transposeB: tb, m: 3, n: 5, k: 7), GemmCase(transposeA: ta, transposeB: tb, m: 17, n: 9, k: 33)]
        }
    }

    @Test("sgemm computes alpha·op(A)·op(B) + beta·C with padded leading dimensions", arguments: GemmCase.all)
    func sgemmMatchesReference(g: GemmCase) {
        // Stored shapes: A is (m, k) or (k, m), B is (k, n) or (n, k); every row has 3 floats of padding.
        let (aRows, aCols) = g.transposeA ? (g.k, g.m) : (g.m, g.k)
        let (bRows, bCols) = g.transposeB ? (g.n, g.k) : (g.k, g.n)
        let (lda, ldb, ldc) = (aCols + 3, bCols + 3, g.n + 3)
        let a = randomFloats(aRows * lda, seed: 1), b = randomFloats(bRows * ldb, seed: 2)
        var c = randomFloats(g.m * ldc, seed: 3)
        let expected = Reference.gemm(transposeA: g.transposeA, transposeB: g.transposeB, m: g.m, n: g.n, k: g.k,
                                      alpha: 0.75, a: a.map(Double.init), lda: lda, b: b.map(Double.init), ldb: ldb,
                                      beta: -0.5, c: c.map(Double.init), ldc: ldc)
        sgemm(transposeA: g.transposeA, transposeB: g.transposeB, m: g.m, n: g.n, k: g.k, alpha: 0.75,
              a: a, lda: lda, b: b, ldb: ldb, beta: -0.5, c: &c, ldc: ldc)
        // Padding columns are left alone by BLAS; the reference copies them from c, so they compare too.
        expectClose(c, expected, .forward, "sgemm")
    }
}
