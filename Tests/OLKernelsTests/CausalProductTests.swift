import CVectorMath
import OLTestSupport
import Testing
@testable import OLKernels

/// The causal products of one attention head (`olab_causal_abt`, `_pb`, `_ptb` in CVectorMath).
@Suite("Causal attention products", .serialized)
struct CausalProductTests {
    struct Shape: Sendable, CustomTestStringConvertible {
        var rows: Int, i0: Int, i1: Int, n: Int
        var testDescription: String { "rows \(i0)..<\(i1) of \(rows), n=\(n)" }
        // n = 16 and 64 are the audit and bench heads; 5, 8, 24 and 37 leave every kind of column tail;
        // 150 keys cross the 128-key panel of the transposed operand; odd row counts leave row tails.
        static let all = [Shape(rows: 64, i0: 0, i1: 64, n: 16), Shape(rows: 64, i0: 32, i1: 64, n: 16),
                          Shape(rows: 128, i0: 96, i1: 128, n: 64), Shape(rows: 9, i0: 0, i1: 9, n: 5),
                          Shape(rows: 13, i0: 3, i1: 13, n: 8), Shape(rows: 40, i0: 7, i1: 38, n: 24),
                          Shape(rows: 150, i0: 0, i1: 150, n: 37), Shape(rows: 3, i0: 0, i1: 3, n: 1)]
    }

    /// Inputs with row strides wider than the rows (as in a fused qkv buffer), outputs pre-filled.
    struct Operands {
        let a: [Float], b: [Float], p: [Float], out: [Float]
        let lda: Int, ldb: Int, ldp: Int, ldo: Int

        init(_ s: Shape, seed: UInt64) {
            (lda, ldb, ldp, ldo) = (s.n + 3, 3 * s.n + 1, s.rows + 2, s.n + 5)
            a = randomFloats(s.rows * lda, seed: seed, std: 1)
            b = randomFloats(s.rows * ldb, seed: seed + 1, std: 1)
            p = randomFloats(s.rows * ldp, seed: seed + 2, std: 0.5)
            out = randomFloats(s.rows * ldo, seed: seed + 3, std: 0.25)
        }
    }

    /// Runs the three products once, with the vector lanes or the portable loops.
    static func products(_ s: Shape, _ x: Operands, portable: Bool) -> (scores: [Float], mixed: [Float], mixedOnto: [Float], scattered: [Float]) {
        olab_vector_math_force_portable(portable ? 1 : 0)
        defer { olab_vector_math_force_portable(0) }
        var scores = [Float](repeating: .nan, count: s.rows * x.ldp)
        var mixed = x.out, mixedOnto = x.out, scattered = x.out
        x.a.withUnsafeBufferPointer { a in
            x.b.withUnsafeBufferPointer { b in
                x.p.withUnsafeBufferPointer { p in
                    let (pa, pb, pp) = (a.baseAddress!, b.baseAddress!, p.baseAddress! + s.i0 * x.ldp)
                    let (i0, i1, n) = (Int32(s.i0), Int32(s.i1), Int32(s.n))
                    olab_causal_abt(pa, x.lda, pb, x.ldb, i0, i1, n, 0.3, &scores, x.ldp)
                    mixed.withUnsafeMutableBufferPointer { olab_causal_pb(pp, x.ldp, pb, x.ldb, i0, i1, n, 0.7, 0, $0.baseAddress! + s.i0 * x.ldo, x.ldo) }
                    mixedOnto.withUnsafeMutableBufferPointer { olab_causal_pb(pp, x.ldp, pb, x.ldb, i0, i1, n, 0.7, 1, $0.baseAddress! + s.i0 * x.ldo, x.ldo) }
                    scattered.withUnsafeMutableBufferPointer { olab_causal_ptb(pp, x.ldp, pb, x.ldb, i0, i1, n, 0.7, $0.baseAddress!, x.ldo) }
                }
            }
        }
        return (scores, mixed, mixedOnto, scattered)
    }

    @Test("the vector lanes and the portable fmaf loops give the same bits", arguments: Shape.all)
    func vectorLanesEqualPortableLoops(shape: Shape) {
        let x = Operands(shape, seed: UInt64(shape.rows * 31 + shape.n))
        let lanes = Self.products(shape, x, portable: false), loops = Self.products(shape, x, portable: true)
        expectBitwiseEqual(lanes.scores, loops.scores, "scale·a·bᵀ")
        expectBitwiseEqual(lanes.mixed, loops.mixed, "scale·p·b")
        expectBitwiseEqual(lanes.mixedOnto, loops.mixedOnto, "out + scale·p·b")
        expectBitwiseEqual(lanes.scattered, loops.scattered, "out + scale·pᵀ·b")
    }

    @Test("the products match their definitions in Double and write only the causal entries", arguments: Shape.all)
    func productsMatchDefinitions(shape s: Shape) {
        let x = Operands(s, seed: UInt64(s.rows * 17 + s.n))
        let got = Self.products(s, x, portable: false)
        var scoreErrors = 0, untouchedErrors = 0, mixErrors = 0, scatterErrors = 0
        // A sum of at most 150 terms of size ≤ ~4 in float32 with fma: relative 1e-5 of the summed
        // magnitudes (≈ K·ε with K = 150) is the standard bound with room to spare.
        func close(_ value: Float, _ exact: Double, magnitude: Double) -> Bool { abs(Double(value) - exact) <= 1e-5 * magnitude + 1e-6 }
        for i in s.i0..<s.i1 {
            let row = (i - s.i0) * x.ldp
            for j in 0..<s.rows {
                let value = got.scores[row + j]
                guard j <= i else { if !value.isNaN { untouchedErrors += 1 }; continue }
                let terms = (0..<s.n).map { Double(x.a[i * x.lda + $0]) * Double(x.b[j * x.ldb + $0]) }
                if !close(value, 0.3 * terms.reduce(0, +), magnitude: 0.3 * terms.map(abs).reduce(0, +)) { scoreErrors += 1 }
            }
            for d in 0..<s.n {
                let terms = (0...i).map { Double(x.p[i * x.ldp + $0]) * Double(x.b[$0 * x.ldb + d]) }
                let exact = 0.7 * terms.reduce(0, +), magnitude = 0.7 * terms.map(abs).reduce(0, +)
                if !close(got.mixed[i * x.ldo + d], exact, magnitude: magnitude) { mixErrors += 1 }
                if !close(got.mixedOnto[i * x.ldo + d], Double(x.out[i * x.ldo + d]) + exact, magnitude: magnitude + 1) { mixErrors += 1 }
            }
        }
        for j in 0..<s.rows {
            for d in 0..<s.n {
                let terms = (max(j, s.i0)..<max(s.i1, j)).map { Double(x.p[$0 * x.ldp + j]) * Double(x.b[$0 * x.ldb + d]) }
                let exact = Double(x.out[j * x.ldo + d]) + 0.7 * terms.reduce(0, +)
                if !close(got.scattered[j * x.ldo + d], exact, magnitude: 1 + 0.7 * terms.map(abs).reduce(0, +)) { scatterErrors += 1 }
            }
        }
        #expect(scoreErrors == 0 && untouchedErrors == 0, "a·bᵀ: \(scoreErrors) entries off, \(untouchedErrors) written right of the diagonal")
        #expect(mixErrors == 0, "p·b: \(mixErrors) entries off")
        #expect(scatterErrors == 0, "pᵀ·b: \(scatterErrors) entries off")
        // Rows outside i0 ..< i1 of the p·b outputs are left as they were.
        let outside = (0..<s.rows).filter { $0 < s.i0 || $0 >= s.i1 }.flatMap { r in (0..<s.n).map { r * x.ldo + $0 } }
        #expect(outside.allSatisfy { got.mixed[$0].bitPattern == x.out[$0].bitPattern }, "p·b wrote rows outside its block")
    }
}
