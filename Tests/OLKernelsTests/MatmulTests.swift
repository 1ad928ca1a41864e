import OLCore
import OLTestSupport
import Testing
@testable import OLKernels

@Suite("Matmul and sgemm")
struct MatmulTests {
    @Test("matmul matches the Double reference and its finite-difference gradients", arguments: MatmulShape.all)
    func matmulMatchesReference(shape: MatmulShape) {
        check(Cases.matmul(N: shape.N, C: shape.C, OC: shape.OC, seed: UInt64(shape.N * 100 + shape.C)))
    }

    @Test("accumulateInput: false writes dinp as clearing and accumulating would, stale contents ignored",
          arguments: [(N: 5, C: 3, OC: 7), (N: 300, C: 64, OC: 256)])
    func overwriteInputGradient(shape: (N: Int, C: Int, OC: Int)) {
        let (N, C, OC) = shape
        let dout = randomFloats(N * OC, seed: 1), inp = randomFloats(N * C, seed: 2), weight = randomFloats(OC * C, seed: 3)
        var accumulated = [Float](repeating: 0, count: N * C), overwritten = randomFloats(N * C, seed: 4)
        var dweight1 = [Float](repeating: 0, count: OC * C), dweight2 = dweight1
        matmulBackward(dinp: &accumulated, dweight: &dweight1, dout: dout, inp: inp, weight: weight, N: N, C: C, OC: OC)
        matmulBackward(dinp: &overwritten, dweight: &dweight2, dout: dout, inp: inp, weight: weight, N: N, C: C, OC: OC,
                       accumulateInput: false)
        // β = 0 runs as clear-then-β = 1 (`BLAS.sgemm`), so even an exact zero's sign is the same.
        expectBitwiseEqual(overwritten, accumulated, "dinp with β = 0 against clear-then-accumulate")
        expectBitwiseEqual(dweight2, dweight1, "dweight")
    }

    @Test("β = 0 ignores what C held, nan included, and gives the bits of β = 1 onto zeros, padding untouched",
          arguments: GemmCase.all + GemmCase.partitioned)
    func betaZeroIsAProductOntoZeros(g: GemmCase) {
        let (aRows, aCols) = g.transposeA ? (g.k, g.m) : (g.m, g.k)
        let (bRows, bCols) = g.transposeB ? (g.n, g.k) : (g.k, g.n)
        let (lda, ldb, ldc) = (aCols + 3, bCols + 3, g.n + 3)
        let a = randomFloats(aRows * lda, seed: 5), b = randomFloats(bRows * ldb, seed: 6)
        // C's rows: nan where the product goes (β = 0) or 0 (β = 1), and a marker in the 3 padding columns.
        func start(_ fill: Float) -> [Float] { (0..<(g.m * ldc)).map { $0 % ldc < g.n ? fill : 1234.5 } }
        var stale = start(.nan), zeros = start(0)
        let parallel = GemmPartition(m: g.m, n: g.n, k: g.k).pieces > 1
        Parallel.withWorkers(2) {
            BLAS.sgemm(transposeA: g.transposeA, transposeB: g.transposeB, m: g.m, n: g.n, k: g.k, alpha: 0.75,
                       a: a, lda: lda, b: b, ldb: ldb, beta: 0, c: &stale, ldc: ldc, parallel: parallel)
            BLAS.sgemm(transposeA: g.transposeA, transposeB: g.transposeB, m: g.m, n: g.n, k: g.k, alpha: 0.75,
                       a: a, lda: lda, b: b, ldb: ldb, beta: 1, c: &zeros, ldc: ldc, parallel: parallel)
        }
        expectBitwiseEqual(stale, zeros, "β = 0 over nan against β = 1 over zeros (padding 1234.5 in both)")
    }

    struct GemmCase: Sendable, CustomTestStringConvertible {
        var transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int
        var testDescription: String { "A\(transposeA ? "ᵀ" : "")·B\(transposeB ? "ᵀ" : "") m=\(m) n=\(n) k=\(k)" }
        static let all = [(false, false), (false, true), (true, false), (true, true)].flatMap { ta, tb in
            [GemmCase(transposeA: ta, transposeB: tb, m: 3, n: 5, k: 7), GemmCase(transposeA: ta, transposeB: tb, m: 17, n: 9, k: 33)]
        }
        /// Big enough for `BLAS.sgemm(…, parallel: true)` to cut them into pieces: row runs (m ≥ n), column runs
        /// (n > m), each with a shorter last piece.
        static let partitioned = [(false, false), (false, true), (true, false), (true, true)].flatMap { ta, tb in
            [GemmCase(transposeA: ta, transposeB: tb, m: 301, n: 70, k: 400), GemmCase(transposeA: ta, transposeB: tb, m: 37, n: 613, k: 500)]
        }
    }

    @Test("sgemm computes alpha·op(A)·op(B) + beta·C with padded leading dimensions", arguments: GemmCase.all)
    func sgemmMatchesReference(g: GemmCase) {
        checkAgainstReference(g, "sgemm") { a, lda, b, ldb, c, ldc in
            BLAS.sgemm(transposeA: g.transposeA, transposeB: g.transposeB, m: g.m, n: g.n, k: g.k, alpha: 0.75,
                  a: a, lda: lda, b: b, ldb: ldb, beta: -0.5, c: c, ldc: ldc)
        }
    }

    @Test("parallel sgemm cut into pieces computes the same product, padding untouched", arguments: GemmCase.partitioned)
    func parallelSgemmMatchesReference(g: GemmCase) {
        #expect(GemmPartition(m: g.m, n: g.n, k: g.k).pieces > 1, "the case must really be cut")
        // Outputs are sums of k = 400–500 products of N(0, 1) values (|C| up to ~60), so float32 rounding
        // grows with k: 2·k·ε absolute (k·ε is the usual summation bound per unit of |a·b|) plus the
        // forward rtol. The pieces call the same sgemm on sub-blocks, so this is sgemm's own accuracy.
        let tolerance = Tolerance(rtol: Tolerance.forward.rtol, atol: 2 * Double(g.k) * Double(Float.ulpOfOne))
        checkAgainstReference(g, "parallel sgemm", tolerance: tolerance) { a, lda, b, ldb, c, ldc in
            Parallel.withWorkers(2) {
                BLAS.sgemm(transposeA: g.transposeA, transposeB: g.transposeB, m: g.m, n: g.n, k: g.k, alpha: 0.75,
                           a: a, lda: lda, b: b, ldb: ldb, beta: -0.5, c: c, ldc: ldc, parallel: true)
            }
        }
    }

    /// Runs `product` on random padded operands and compares C with the Double reference.
    func checkAgainstReference(
        _ g: GemmCase, _ what: String, tolerance: Tolerance = .forward,
        _ product: (UnsafePointer<Float>, Int, UnsafePointer<Float>, Int, UnsafeMutablePointer<Float>, Int) -> Void
    ) {
        // Stored shapes: A is (m, k) or (k, m), B is (k, n) or (n, k); every row has 3 floats of padding.
        let (aRows, aCols) = g.transposeA ? (g.k, g.m) : (g.m, g.k)
        let (bRows, bCols) = g.transposeB ? (g.n, g.k) : (g.k, g.n)
        let (lda, ldb, ldc) = (aCols + 3, bCols + 3, g.n + 3)
        let a = randomFloats(aRows * lda, seed: 1), b = randomFloats(bRows * ldb, seed: 2)
        var c = randomFloats(g.m * ldc, seed: 3)
        let expected = Reference.gemm(transposeA: g.transposeA, transposeB: g.transposeB, m: g.m, n: g.n, k: g.k,
                                      alpha: 0.75, a: a.map(Double.init), lda: lda, b: b.map(Double.init), ldb: ldb,
                                      beta: -0.5, c: c.map(Double.init), ldc: ldc)
        a.withUnsafeBufferPointer { av in
            b.withUnsafeBufferPointer { bv in
                c.withUnsafeMutableBufferPointer { cv in product(av.baseAddress!, lda, bv.baseAddress!, ldb, cv.baseAddress!, ldc) }
            }
        }
        // Padding columns are left alone by BLAS; the reference copies them from c, so they compare too.
        expectClose(c, expected, tolerance, what)
    }

    @Test("a gemm partition covers its side exactly once, in an even number of aligned runs of at least the minimum work",
          arguments: [(1, 1, 1), (2048, 768, 256), (2048, 256, 1024), (1024, 256, 2048), (37, 613, 101), (16, 16, 100_000), (100_000, 3, 3)])
    func partitionCoversTheOutput(m: Int, n: Int, k: Int) {
        let partition = GemmPartition(m: m, n: n, k: k)
        let extent = partition.splitsRows ? m : n
        let ranges = (0..<partition.pieces).map(partition.range(of:))
        #expect(ranges.first?.lowerBound == 0 && ranges.last?.upperBound == extent, "\(ranges)")
        #expect(zip(ranges, ranges.dropFirst()).allSatisfy { $0.upperBound == $1.lowerBound && !$1.isEmpty }, "\(ranges)")
        #expect(ranges.dropLast().allSatisfy { $0.count % GemmPartition.alignment == 0 }, "\(ranges)")
        #expect(partition.pieces <= GemmPartition.maximumPieces)
        #expect(partition.pieces == 1 || partition.pieces % 2 == 0, "two workers get equal shares: \(partition.pieces) pieces")
        // Every piece but the (shorter) last carries at least the minimum work.
        let flopsPerLine = 2 * Double(partition.splitsRows ? n : m) * Double(k)
        #expect(ranges.dropLast().allSatisfy { Double($0.count) * flopsPerLine >= Double(GemmPartition.minimumFlops) }, "\(ranges)")
    }
}
