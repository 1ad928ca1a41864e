import CBLAS
import OLCore

/// Symmetric eigendecomposition and Householder QR in Double through LAPACK (column-major n×n).
/// Each solver asks LAPACK for its optimal workspace once, at construction, and reuses it: results never
/// depend on the workspace size chosen (it is always the optimal one) and steps do not allocate.

/// `dsyevd`: all eigenvalues (ascending) and eigenvectors of a symmetric matrix, upper triangle read.
struct SymmetricEigensolver: Sendable {
    let n: Int
    private var work: [Double]
    private var iwork: [Int32]
    private(set) var eigenvalues: [Double]

    init(n: Int) throws {
        self.n = n
        eigenvalues = Array(repeating: 0, count: n)
        var size = Int32(n), lwork: Int32 = -1, liwork: Int32 = -1, info: Int32 = 0
        var jobz = CChar(UInt8(ascii: "V")), uplo = CChar(UInt8(ascii: "U"))
        var workQuery = 0.0, iworkQuery: Int32 = 0
        var dummy = [Double](repeating: 0, count: max(1, n * n))
        dsyevd_(&jobz, &uplo, &size, &dummy, &size, &eigenvalues, &workQuery, &lwork, &iworkQuery, &liwork, &info, 1, 1)
        try LAPACKStatus.check(info, routine: "dsyevd", context: "workspace query for n = \(n)")
        work = Array(repeating: 0, count: max(1, Int(workQuery)))
        iwork = Array(repeating: 0, count: max(1, Int(iworkQuery)))
    }

    /// Replaces `a` by its eigenvectors (column j belongs to `eigenvalues[j]`, ascending).
    mutating func solve(_ a: inout [Double], context: String) throws {
        var size = Int32(n), lwork = Int32(work.count), liwork = Int32(iwork.count), info: Int32 = 0
        var jobz = CChar(UInt8(ascii: "V")), uplo = CChar(UInt8(ascii: "U"))
        // OpenBLAS is single-threaded for the whole process (`BLAS`): its dsyevd gives other bits on more threads.
        dsyevd_(&jobz, &uplo, &size, &a, &size, &eigenvalues, &work, &lwork, &iwork, &liwork, &info, 1, 1)
        try LAPACKStatus.check(info, routine: "dsyevd", context: context)
    }
}

/// A precision with LAPACK QR routines (Fortran ABI, square n×n column-major matrices).
protocol QRScalar: BinaryFloatingPoint, Sendable {
    static var qr: QRRoutines<Self> { get }
}

/// `?geqrf` and `?orgqr` of one precision, square case: arguments (n, a, lda, tau, work, lwork, info).
struct QRRoutines<Scalar>: Sendable {
    typealias Routine = @Sendable (UnsafeMutablePointer<Int32>, UnsafeMutablePointer<Scalar>, UnsafeMutablePointer<Int32>,
                                   UnsafeMutablePointer<Scalar>, UnsafeMutablePointer<Scalar>, UnsafeMutablePointer<Int32>,
                                   UnsafeMutablePointer<Int32>) -> Void
    /// "d" or "s", for error messages.
    let letter: String
    let geqrf: Routine
    let orgqr: Routine
}

extension Double: QRScalar {
    static let qr = QRRoutines<Double>(letter: "d",
                                       geqrf: { n, a, lda, tau, work, lwork, info in dgeqrf_(n, n, a, lda, tau, work, lwork, info) },
                                       orgqr: { n, a, lda, tau, work, lwork, info in dorgqr_(n, n, n, a, lda, tau, work, lwork, info) })
}

extension Float: QRScalar {
    static let qr = QRRoutines<Float>(letter: "s",
                                      geqrf: { n, a, lda, tau, work, lwork, info in sgeqrf_(n, n, a, lda, tau, work, lwork, info) },
                                      orgqr: { n, a, lda, tau, work, lwork, info in sorgqr_(n, n, n, a, lda, tau, work, lwork, info) })
}

/// `?geqrf` + `?orgqr`: the Q factor of a Householder QR of a square matrix (LAPACK's sign convention,
/// the one torch.linalg.qr inherits), in Double (random bases) or Float (the SOAP refresh: the official
/// soap.py runs it on float32 tensors, and single precision is ~30 % faster here). The workspace is
/// queried once per size and reused.
///
/// The matrix is column-major with a padded leading dimension `lda` (≥ n, ≡ 8 mod 16): with n = 1024 a
/// column is exactly 4 KiB, every column of a panel lands in the same cache sets, and the QR ran 1.8×
/// slower (73 ms against 40 ms single-threaded here). The padding changes only where columns live in
/// memory, not the arithmetic: the Q factor is bitwise the same.
struct HouseholderQR<Scalar: QRScalar>: Sendable {
    let n: Int
    /// Distance between the starts of consecutive columns, in elements.
    let lda: Int
    private var work: [Scalar]
    private var tau: [Scalar]
    /// sign(R_jj) of the last factorisation, for `haarOrthogonalFactor`.
    private var diagonalSigns: [Scalar]

    /// The padded leading dimension used for n×n matrices.
    static func leadingDimension(_ n: Int) -> Int { n + (24 - n % 16) % 16 }

    init(n: Int) throws {
        self.n = n
        lda = Self.leadingDimension(n)
        tau = Array(repeating: 0, count: max(1, n))
        diagonalSigns = tau
        var size = Int32(n), lead = Int32(lda), lwork: Int32 = -1, info: Int32 = 0
        var dummy = [Scalar](repeating: 0, count: max(1, lda * n))
        var factorQuery: Scalar = 0, generateQuery: Scalar = 0
        Scalar.qr.geqrf(&size, &dummy, &lead, &tau, &factorQuery, &lwork, &info)
        try LAPACKStatus.check(info, routine: Scalar.qr.letter + "geqrf", context: "workspace query for n = \(n)")
        Scalar.qr.orgqr(&size, &dummy, &lead, &tau, &generateQuery, &lwork, &info)
        try LAPACKStatus.check(info, routine: Scalar.qr.letter + "orgqr", context: "workspace query for n = \(n)")
        work = Array(repeating: 0, count: max(1, Int(max(factorQuery, generateQuery))))
    }

    /// Replaces the n×n column-major `a` (element (i, j) at `a[i + j·lda]`, at least `lda·n` long) by the
    /// Q factor of its QR decomposition.
    mutating func orthogonalFactor(_ a: inout [Scalar], context: String) throws {
        try factor(&a, context: context, signCorrected: false)
    }

    /// Like `orthogonalFactor`, with column j of Q multiplied by sign(R_jj) (+1 where R_jj = 0): the Q of
    /// the QR whose R has a non-negative diagonal, which is unique. For a matrix of i.i.d. standard normals
    /// that Q is Haar-distributed (Mezzadri, "How to generate random matrices from the classical compact
    /// groups", 2007); LAPACK's own signs are not, they follow its Householder reflector convention.
    mutating func haarOrthogonalFactor(_ a: inout [Scalar], context: String) throws {
        try factor(&a, context: context, signCorrected: true)
    }

    private mutating func factor(_ a: inout [Scalar], context: String, signCorrected: Bool) throws {
        precondition(a.count >= lda * n, "QR matrix buffer too small")
        var size = Int32(n), lead = Int32(lda), lwork = Int32(work.count), info: Int32 = 0
        // Single-threaded like the eigensolver (`BLAS`): OpenBLAS's QR gives other bits on more threads.
        Scalar.qr.geqrf(&size, &a, &lead, &tau, &work, &lwork, &info)
        try LAPACKStatus.check(info, routine: Scalar.qr.letter + "geqrf", context: context)
        // geqrf leaves R in the upper triangle; orgqr overwrites it with Q.
        if signCorrected { for j in 0..<n { diagonalSigns[j] = a[j + j * lda] < 0 ? -1 : 1 } }
        Scalar.qr.orgqr(&size, &a, &lead, &tau, &work, &lwork, &info)
        try LAPACKStatus.check(info, routine: Scalar.qr.letter + "orgqr", context: context)
        guard signCorrected else { return }
        for j in 0..<n where diagonalSigns[j] < 0 {
            for i in 0..<n { a[i + j * lda] = -a[i + j * lda] }
        }
    }
}

enum LAPACKStatus {
    /// A non-zero `info` as a one-line error naming the routine, what it was computing and the cause.
    static func check(_ info: Int32, routine: String, context: String) throws {
        guard info != 0 else { return }
        if info < 0 {
            throw OutlierLabError("LAPACK \(routine) rejected argument \(-info) (info = \(info)) while computing \(context)")
        }
        throw OutlierLabError("LAPACK \(routine) did not converge (info = \(info)) while computing \(context); the preconditioner statistics may be degenerate")
    }
}
