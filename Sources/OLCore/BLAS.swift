import CBLAS

/// Matrix products through OpenBLAS, deterministic by construction.
///
/// OpenBLAS runs on **one thread for the whole process**: a C constructor (`CBLASStartup`) sets it when
/// the binary loads, before any Swift code, and nothing changes it afterwards. On some kernels (Haswell
/// among them) OpenBLAS's multi-threaded sgemm splits the work differently from its single-threaded one
/// and gives different bits, so its thread count must never be part of a result. Every parallel split is
/// ours instead: `sgemm(…, parallel: true)` cuts the output into pieces whose boundaries depend only on (m, n, k),
/// each piece one single-threaded `sgemm` on a worker. Every output element is computed by the same call
/// with the same operands whatever the worker count, so the bits cannot depend on it either.
public enum BLAS {
    /// C = alpha · op(A) · op(B) + beta · C for row-major matrices, where op(X) is X or Xᵀ. op(A) is
    /// (m, k), op(B) is (k, n), C is (m, n); lda/ldb/ldc are the row strides of the stored matrices.
    ///
    /// `parallel: false` is one single-threaded OpenBLAS call. `parallel: true` cuts the output into
    /// `GemmPartition(m:n:k:)` pieces run on the `Parallel` workers: bitwise the same for any worker count
    /// (and when the pool is busy and the pieces run in order on the caller); not bitwise the same as one
    /// call of the whole product.
    @inline(__always)
    public static func sgemm(
        transposeA: Bool, transposeB: Bool,
        m: Int, n: Int, k: Int,
        alpha: Float,
        a: UnsafePointer<Float>, lda: Int,
        b: UnsafePointer<Float>, ldb: Int,
        beta: Float,
        c: UnsafeMutablePointer<Float>, ldc: Int,
        parallel: Bool = false
    ) {
        guard m > 0, n > 0 else { return }
        if parallel {
            partitioned(transposeA, transposeB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
        } else {
            single(transposeA, transposeB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
        }
    }

    /// One single-threaded `cblas_sgemm` (row-major). β = 0 is run as "clear C, then β = 1": OpenBLAS's own
    /// β = 0 pass writes the same +0s (its kernel then adds the product onto C either way, so the bits are
    /// the same), but slower than a memset. At the regime model's k = 64 forward products that pass cost
    /// ~10 % of each product (alternated in one process, 1,900 calls each; issue 28).
    @inline(__always)
    private static func single(_ transposeA: Bool, _ transposeB: Bool, _ m: Int, _ n: Int, _ k: Int, _ alpha: Float,
                               _ a: UnsafePointer<Float>, _ lda: Int, _ b: UnsafePointer<Float>, _ ldb: Int,
                               _ beta: Float, _ c: UnsafeMutablePointer<Float>, _ ldc: Int) {
        if beta == 0 {
            for row in 0..<m { (c + row * ldc).update(repeating: 0, count: n) }
            cblas_sgemm(CblasRowMajor, transposeA ? CblasTrans : CblasNoTrans, transposeB ? CblasTrans : CblasNoTrans,
                        Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb), 1, c, Int32(ldc))
            return
        }
        cblas_sgemm(CblasRowMajor, transposeA ? CblasTrans : CblasNoTrans, transposeB ? CblasTrans : CblasNoTrans,
                    Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
    }

    /// The product cut into `GemmPartition` pieces, each one `single` call on a worker.
    private static func partitioned(_ transposeA: Bool, _ transposeB: Bool, _ m: Int, _ n: Int, _ k: Int, _ alpha: Float,
                                    _ a: UnsafePointer<Float>, _ lda: Int, _ b: UnsafePointer<Float>, _ ldb: Int,
                                    _ beta: Float, _ c: UnsafeMutablePointer<Float>, _ ldc: Int) {
        let partition = GemmPartition(m: m, n: n, k: k)
        guard partition.pieces > 1 else { return single(transposeA, transposeB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc) }
        let (lhs, rhs, out) = (SendablePointer(UnsafeMutablePointer(mutating: a)),
                               SendablePointer(UnsafeMutablePointer(mutating: b)), SendablePointer(c))
        Parallel.forEachChunk(count: partition.pieces, chunkSize: 1) { pieces in
            for piece in pieces {
                let range = partition.range(of: piece)
                if partition.splitsRows {
                    // Rows i of C use row i of op(A): row i of A, or column i of Aᵀ's storage.
                    let aPiece = transposeA ? lhs.base + range.lowerBound : lhs.base + range.lowerBound * lda
                    single(transposeA, transposeB, range.count, n, k, alpha, aPiece, lda, rhs.base, ldb, beta,
                           out.base + range.lowerBound * ldc, ldc)
                } else {
                    // Columns j of C use column j of op(B): column j of B, or row j of Bᵀ's storage.
                    let bPiece = transposeB ? rhs.base + range.lowerBound * ldb : rhs.base + range.lowerBound
                    single(transposeA, transposeB, m, range.count, k, alpha, lhs.base, lda, bPiece, ldb, beta,
                           out.base + range.lowerBound, ldc)
                }
            }
        }
    }
}

/// How `BLAS.sgemm(…, parallel: true)` cuts an (m, n) output with inner dimension k: along its longer side into
/// `pieces` runs of `width` rows or columns (the last may be shorter). A function of (m, n, k) alone —
/// never of the worker count — which is what makes the product's bits independent of it.
///
/// Sizing: a piece carries at least `minimumFlops` (≈ 80 µs of one core), because every piece is its own
/// sgemm call with its own fixed cost and packing: at the audit model's sizes (d = 64) 4-MFLOP pieces
/// made a one-thread step 6 % slower than one call per product, 8-MFLOP pieces 2.7 %, while 16-MFLOP
/// pieces left two cores idle on half the products (a two-thread step 14 % slower). The count is even
/// (when above one), so two workers — one per core here — always get equal shares, and at most
/// `maximumPieces`; widths are multiples of `alignment` so every piece but the last keeps OpenBLAS's
/// micro-kernel on whole tiles.
///
/// Why at most 4: every row piece packs the whole of op(B) again (a column piece, op(A)), so pieces
/// cost packing that grows with their number. On the bench model (d = 256) the products ran at
/// 168–188 GFLOP/s on two workers in 16 pieces and 186–209 in 4 (2 pieces: within noise of 4), three
/// alternated runs each. Four still lets a single run use four cores.
///
/// The partition decides the bits on some kernels: OpenBLAS's Haswell and Zen sgemm round the last
/// rows of a call differently (its 12-column register tiles have a narrower tail), so pieces of other
/// widths give other last bits there; Sandybridge, SkylakeX and Cooperlake gave the same bits for every
/// row split we tried. Either way a partition is a function of the shape alone.
public struct GemmPartition: Sendable, Equatable {
    public static let minimumFlops = 1 << 23
    public static let maximumPieces = 4
    public static let alignment = 16

    /// Whether the pieces are runs of rows (else runs of columns).
    public let splitsRows: Bool
    /// Rows (or columns) per piece.
    public let width: Int
    public let pieces: Int
    let extent: Int

    public init(m: Int, n: Int, k: Int) {
        splitsRows = m >= n
        extent = splitsRows ? m : n
        let flops = 2 * Double(m) * Double(n) * Double(k)
        let byWork = Int(min(Double(Self.maximumPieces), (flops / Double(Self.minimumFlops)).rounded(.down)))
        let byShape = extent / Self.alignment
        let most = min(byWork, byShape)
        let wanted = most > 1 ? most / 2 * 2 : 1
        let rawWidth = (extent + wanted - 1) / wanted
        width = max(1, (rawWidth + Self.alignment - 1) / Self.alignment * Self.alignment)
        pieces = max(1, (extent + width - 1) / width)
    }

    /// The rows (or columns) of piece `piece`.
    public func range(of piece: Int) -> Range<Int> {
        piece * width ..< min(extent, (piece + 1) * width)
    }
}
