import CVectorMath
import OLTestSupport
import Testing
@testable import OLKernels

/// LayerNorm's row sums and the fused causal softmax of `CVectorMath`: the C functions that replaced
/// Swift loops for speed (issue 28) must keep those loops' bits, on the vector lanes and the portable path.
@Suite("Row sums and the fused causal softmax", .serialized)
struct RowKernelTests {
    /// Runs `body` with the vector lanes (portable false) or the portable loops.
    static func on<T>(portable: Bool, _ body: () -> T) -> T {
        olab_vector_math_force_portable(portable ? 1 : 0)
        defer { olab_vector_math_force_portable(0) }
        return body()
    }

    struct Shape: Sendable, CustomTestStringConvertible {
        var rows: Int, count: Int
        var testDescription: String { "\(rows) rows of \(count)" }
        // 8 and 64 are the lanes' whole blocks (d = 64 is the audit's width); 7 and 13 rows leave row
        // tails, 5 and 67 entries column tails; one row of one entry is the smallest case.
        static let all = [Shape(rows: 8, count: 64), Shape(rows: 13, count: 67), Shape(rows: 7, count: 5),
                          Shape(rows: 33, count: 8), Shape(rows: 1, count: 1), Shape(rows: 16, count: 256)]
    }

    /// The three sums as LayerNorm's Swift loops computed them: one float chain per row, terms as written.
    static func plainSums(_ x: [Float], _ dy: [Float], _ w: [Float], _ centre: [Float], _ scale: [Float],
                          ld: Int, _ s: Shape) -> (sums: [Float], squares: [Float], dnorm: [Float], dnormNorm: [Float]) {
        var out = ([Float](repeating: 0, count: s.rows), [Float](repeating: 0, count: s.rows),
                   [Float](repeating: 0, count: s.rows), [Float](repeating: 0, count: s.rows))
        for r in 0..<s.rows {
            for i in 0..<s.count {
                let v = x[r * ld + i]
                out.0[r] += v
                let d = v - centre[r]
                out.1[r] += d * d
                let dnorm = w[i] * dy[r * ld + i]
                out.2[r] += dnorm
                out.3[r] += dnorm * (v - centre[r]) * scale[r]
            }
        }
        return out
    }

    static func cSums(_ x: [Float], _ dy: [Float], _ w: [Float], _ centre: [Float], _ scale: [Float],
                      ld: Int, _ s: Shape) -> (sums: [Float], squares: [Float], dnorm: [Float], dnormNorm: [Float]) {
        var out = ([Float](repeating: .nan, count: s.rows), [Float](repeating: .nan, count: s.rows),
                   [Float](repeating: .nan, count: s.rows), [Float](repeating: .nan, count: s.rows))
        let (rows, count) = (Int32(s.rows), Int32(s.count))
        olab_row_sums(x, ld, rows, count, &out.0)
        olab_row_centred_square_sums(x, ld, rows, count, centre, &out.1)
        olab_layernorm_backward_sums(x, ld, dy, ld, rows, count, w, centre, scale, &out.2, &out.3)
        return out
    }

    @Test("LayerNorm's row sums give the bits of one float chain per row, on the lanes and the portable path",
          arguments: Shape.all)
    func rowSumsGiveThePlainChainsBits(shape s: Shape) {
        let ld = s.count + 3   // rows wider than the summed entries, as a strided view would be
        let seed = UInt64(s.rows * 101 + s.count)
        // Large, mixed-sign values with a large mean: a different summation order would change last bits.
        let x = randomFloats(s.rows * ld, seed: seed, std: 3).map { $0 + 40 }
        let dy = randomFloats(s.rows * ld, seed: seed + 1, std: 1)
        let w = randomFloats(s.count, seed: seed + 2, std: 1)
        let centre = randomFloats(s.rows, seed: seed + 3, std: 1).map { $0 + 40 }
        let scale = randomFloats(s.rows, seed: seed + 4, std: 1).map { abs($0) + 0.5 }
        let plain = Self.plainSums(x, dy, w, centre, scale, ld: ld, s)
        for portable in [false, true] {
            let got = Self.on(portable: portable) { Self.cSums(x, dy, w, centre, scale, ld: ld, s) }
            let path = portable ? "portable" : "lanes"
            expectBitwiseEqual(got.sums, plain.sums, "Σ x (\(path))")
            expectBitwiseEqual(got.squares, plain.squares, "Σ (x − c)² (\(path))")
            expectBitwiseEqual(got.dnorm, plain.dnorm, "Σ w·dy (\(path))")
            expectBitwiseEqual(got.dnormNorm, plain.dnormNorm, "Σ w·dy·(x − μ)·rstd (\(path))")
        }
    }

    struct Block: Sendable, CustomTestStringConvertible {
        var width: Int, i0: Int, i1: Int
        var testDescription: String { "rows \(i0)..<\(i1) of width \(width)" }
        // The audit's T = 64 in its two 32-row blocks; odd widths and starts leave every row-group tail.
        static let all = [Block(width: 64, i0: 0, i1: 32), Block(width: 64, i0: 32, i1: 64),
                          Block(width: 37, i0: 5, i1: 37), Block(width: 9, i0: 0, i1: 9), Block(width: 3, i0: 2, i1: 3)]
    }

    @Test("the fused causal softmax gives the row-by-row softmax's bits, with −inf, nan and huge gaps",
          arguments: Block.all)
    func fusedCausalSoftmaxGivesTheRowsBits(block b: Block) {
        let rows = b.i1 - b.i0
        var logits = randomFloats(rows * b.width, seed: UInt64(b.width * 7 + b.i0), std: 6)
        // Specials on some rows: a −inf, a nan, a gap past exp's range, and an all-(−inf) row.
        if rows > 3 {
            logits[1 * b.width + 0] = -.infinity
            logits[2 * b.width + min(1, b.i0 + 2)] = .nan
            logits[3 * b.width + 0] = 200
        }
        if rows > 4 { for j in 0...(b.i0 + 4) { logits[4 * b.width + j] = -.infinity } }
        var expected = logits
        expected.withUnsafeMutableBufferPointer { p in
            forEachRowGroup(b.i0..<b.i1) { i, group in
                causalSoftmaxRows(p.baseAddress! + (i - b.i0) * b.width, stride: b.width, first: i, group: group, cap: nil)
                for r in i..<(i + group) { zeroFill(p.baseAddress! + (r - b.i0) * b.width + r + 1, count: b.width - r - 1) }
            }
        }
        for portable in [false, true] {
            var got = logits
            Self.on(portable: portable) {
                olab_causal_softmax(&got, b.width, Int32(b.i0), Int32(b.i1), Int32(b.width))
            }
            expectBitwiseEqual(got, expected, "causal softmax (\(portable ? "portable" : "lanes"))")
        }
    }
}
