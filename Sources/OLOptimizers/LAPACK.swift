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
        // Single-threaded: OpenBLAS's dsyevd gives different bits for different thread counts.
        BLASInfo.withSingleThread {
            dsyevd_(&jobz, &uplo, &size, &a, &size, &eigenvalues, &work, &lwork, &iwork, &liwork, &info, 1, 1)
        }
        try LAPACKStatus.check(info, routine: "dsyevd", context: context)
    }
}

/// `dgeqrf` + `dorgqr`: the Q factor of a Householder QR of a square matrix (LAPACK's sign convention,
/// the one torch.linalg.qr inherits).
struct HouseholderQR: Sendable {
    let n: Int
    private var work: [Double]
    private var tau: [Double]

    init(n: Int) throws {
        self.n = n
        tau = Array(repeating: 0, count: max(1, n))
        var size = Int32(n), lwork: Int32 = -1, info: Int32 = 0
        var dummy = [Double](repeating: 0, count: max(1, n * n))
        var factorQuery = 0.0, generateQuery = 0.0
        dgeqrf_(&size, &size, &dummy, &size, &tau, &factorQuery, &lwork, &info)
        try LAPACKStatus.check(info, routine: "dgeqrf", context: "workspace query for n = \(n)")
        dorgqr_(&size, &size, &size, &dummy, &size, &tau, &generateQuery, &lwork, &info)
        try LAPACKStatus.check(info, routine: "dorgqr", context: "workspace query for n = \(n)")
        work = Array(repeating: 0, count: max(1, Int(max(factorQuery, generateQuery))))
    }

    /// Replaces `a` by the Q factor of its QR decomposition.
    mutating func orthogonalFactor(_ a: inout [Double], context: String) throws {
        var size = Int32(n), lwork = Int32(work.count), info: Int32 = 0
        // Single-threaded like the eigensolver: results must not depend on OpenBLAS's thread count.
        try BLASInfo.withSingleThread {
            dgeqrf_(&size, &size, &a, &size, &tau, &work, &lwork, &info)
            try LAPACKStatus.check(info, routine: "dgeqrf", context: context)
            dorgqr_(&size, &size, &size, &a, &size, &tau, &work, &lwork, &info)
            try LAPACKStatus.check(info, routine: "dorgqr", context: context)
        }
    }
}

/// `sgeqrf` + `sorgqr`: the same Q factor in float32, for the basis refresh. The official soap.py runs
/// its refresh QR on float32 tensors too; single precision is about twice as fast as Double here.
struct FloatHouseholderQR: Sendable {
    let n: Int
    private var work: [Float]
    private var tau: [Float]

    init(n: Int) throws {
        self.n = n
        tau = Array(repeating: 0, count: max(1, n))
        var size = Int32(n), lwork: Int32 = -1, info: Int32 = 0
        var dummy = [Float](repeating: 0, count: max(1, n * n))
        var factorQuery: Float = 0, generateQuery: Float = 0
        sgeqrf_(&size, &size, &dummy, &size, &tau, &factorQuery, &lwork, &info)
        try LAPACKStatus.check(info, routine: "sgeqrf", context: "workspace query for n = \(n)")
        sorgqr_(&size, &size, &size, &dummy, &size, &tau, &generateQuery, &lwork, &info)
        try LAPACKStatus.check(info, routine: "sorgqr", context: "workspace query for n = \(n)")
        work = Array(repeating: 0, count: max(1, Int(max(factorQuery, generateQuery))))
    }

    /// Replaces the n×n column-major `a` by the Q factor of its QR decomposition.
    mutating func orthogonalFactor(_ a: inout [Float], context: String) throws {
        var size = Int32(n), lwork = Int32(work.count), info: Int32 = 0
        // Single-threaded: OpenBLAS's QR gives different bits for different thread counts.
        try BLASInfo.withSingleThread {
            sgeqrf_(&size, &size, &a, &size, &tau, &work, &lwork, &info)
            try LAPACKStatus.check(info, routine: "sgeqrf", context: context)
            sorgqr_(&size, &size, &size, &a, &size, &tau, &work, &lwork, &info)
            try LAPACKStatus.check(info, routine: "sorgqr", context: context)
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
