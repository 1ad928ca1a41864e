import CBLAS

/// The BLAS this process runs on, recorded in every run summary and golden header: results that go
/// through sgemm are bitwise reproducible only on the same library, core type and thread count.
public struct BLASInfo: Sendable, Equatable {
    public let config: String
    public let coreName: String
    public let threads: Int

    public static var current: BLASInfo {
        BLASInfo(
            config: String(cString: openblas_get_config()).trimmingCharacters(),
            coreName: String(cString: openblas_get_corename()),
            threads: Int(openblas_get_num_threads())
        )
    }

    /// Sets OpenBLAS's own thread count (used by determinism tests and `olab bench`).
    public static func setThreads(_ count: Int) { openblas_set_num_threads(Int32(count)) }
}

extension String {
    func trimmingCharacters() -> String {
        var scalars = Substring(self)
        while let last = scalars.last, last == " " || last == "\n" { scalars.removeLast() }
        return String(scalars)
    }
}
