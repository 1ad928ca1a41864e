import OLCore

/// Rows per chunk for row-wise kernels: about 16 K floats of work per chunk. Each row is computed
/// independently, so the result does not depend on this number or on the worker count at all.
@inline(__always) func rowChunk(_ C: Int) -> Int { max(1, 16_384 / max(1, C)) }

/// Runs `body` over rows 0..<N in fixed chunks on the `Parallel` workers.
@inline(__always) func forEachRowChunk(N: Int, C: Int, _ body: @Sendable (Range<Int>) -> Void) {
    Parallel.forEachChunk(count: N, chunkSize: rowChunk(C), body)
}

/// A read-only buffer handed to worker threads; kernels never write through it.
@inline(__always) func shared(_ pointer: UnsafePointer<Float>) -> SendablePointer<Float> {
    SendablePointer(UnsafeMutablePointer(mutating: pointer))
}
