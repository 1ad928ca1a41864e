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
            threads: threads
        )
    }

    /// OpenBLAS's thread count outside single-threaded sections.
    public static var threads: Int {
        lock.locked { singleThreadSections > 0 ? Int(threadsToRestore) : Int(openblas_get_num_threads()) }
    }

    /// Sets OpenBLAS's own thread count (determinism tests, `olab bench`). Inside a single-threaded
    /// section the new count takes effect when the last section ends.
    public static func setThreads(_ count: Int) {
        lock.locked {
            if singleThreadSections > 0 { threadsToRestore = Int32(count) } else { openblas_set_num_threads(Int32(count)) }
        }
    }

    /// Runs `body` with OpenBLAS on one thread. Two reasons call for it: OpenBLAS's LAPACK (dsyevd at
    /// least) gives different bits for different thread counts, while its sgemm does not (measured with
    /// 1 and 2 threads at the model's shapes); and our own parallel workers calling sgemm should not each
    /// wake OpenBLAS's threads on the same cores. Sections nest and may overlap across threads: the
    /// count is restored only when the last one ends, so no section ever runs multi-threaded LAPACK.
    public static func withSingleThread<R>(_ body: () throws -> R) rethrows -> R {
        lock.locked {
            if singleThreadSections == 0 {
                threadsToRestore = openblas_get_num_threads()
                if threadsToRestore > 1 { openblas_set_num_threads(1) }
            }
            singleThreadSections += 1
        }
        defer {
            lock.locked {
                singleThreadSections -= 1
                if singleThreadSections == 0 && threadsToRestore != openblas_get_num_threads() {
                    openblas_set_num_threads(threadsToRestore)
                }
            }
        }
        return try body()
    }

    /// `withSingleThread(body)` when `condition` holds, else just `body()`.
    public static func withSingleThread<R>(when condition: Bool, _ body: () throws -> R) rethrows -> R {
        condition ? try withSingleThread(body) : try body()
    }

    private static let lock = Mutex()
    nonisolated(unsafe) private static var singleThreadSections = 0
    nonisolated(unsafe) private static var threadsToRestore: Int32 = 1
}

extension String {
    func trimmingCharacters() -> String {
        var scalars = Substring(self)
        while let last = scalars.last, last == " " || last == "\n" { scalars.removeLast() }
        return String(scalars)
    }
}
