import CBLAS
import CBLASStartup

/// The BLAS this process runs on, recorded in every run summary and golden header. OpenBLAS runs on one
/// thread for the whole process (see `BLAS`), so results depend on the library and its core type (the
/// kernel: same kernel ⇒ same bits; another kernel ⇒ within the goldens' tolerances), never on threads.
public struct BLASInfo: Sendable, Equatable {
    public let config: String
    public let coreName: String
    /// OpenBLAS's thread count: always 1 once the process has loaded.
    public let threads: Int
    /// The thread count OpenBLAS chose at load time (from OPENBLAS_NUM_THREADS or the cores), before it
    /// was set to 1; recorded so a reader sees the variable had no effect on the results.
    public let threadsAtLoad: Int

    public static var current: BLASInfo {
        BLASInfo(
            config: String(cString: openblas_get_config()).trimmingCharacters(),
            coreName: String(cString: openblas_get_corename()),
            threads: threads,
            threadsAtLoad: Int(outlierlab_openblas_threads_at_load())
        )
    }

    /// OpenBLAS's current thread count (1 unless something outside OutlierLab changed it).
    public static var threads: Int { Int(openblas_get_num_threads()) }

    /// The `blas` object of run summaries, audit reports and bench results, with the worker count
    /// (`OLAB_THREADS`) that ran beside it.
    public var json: JSONValue {
        .object([
            "config": .string(config), "core": .string(coreName), "threads": .int(Int64(threads)),
            "threads_at_load": .int(Int64(threadsAtLoad)), "workers": .int(Int64(Parallel.workerCount)),
        ])
    }
}

extension String {
    func trimmingCharacters() -> String {
        var scalars = Substring(self)
        while let last = scalars.last, last == " " || last == "\n" { scalars.removeLast() }
        return String(scalars)
    }
}
