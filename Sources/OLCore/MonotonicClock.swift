import OLPlatform

/// Monotonic seconds (CLOCK_MONOTONIC, a vDSO call on Linux: tens of nanoseconds), for throughput and
/// timings only: never stored in checkpoints or goldens.
@inlinable @inline(__always)
public func monotonicSeconds() -> Double {
    var time = timespec()
    clock_gettime(CLOCK_MONOTONIC, &time)
    return Double(time.tv_sec) + Double(time.tv_nsec) * 1e-9
}
