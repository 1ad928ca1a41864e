import OLCore

// Shape letters used by every kernel in this module:
//   B batch, T sequence length, C channels (model width), OC output channels, V vocabulary,
//   H heads, hs = C / H head size, N = number of rows a row-wise kernel sees (usually B·T).
// All buffers are float32, row-major and contiguous unless a leading dimension (ld…) says otherwise.
// Every backward ACCUMULATES (+=) into its gradient buffers; the caller zeroes them once per step.
// Row-wise kernels parallelise over rows (each chunk owns the rows it writes); parameter gradients that
// sum over rows run on one thread in row order, so every kernel gives the same bits for any worker count.

/// Rows per chunk for row-wise kernels: about 16 K floats of work per chunk. Each row is computed
/// independently, so the result does not depend on this number or on the worker count at all.
@inline(__always) func rowChunk(_ C: Int) -> Int { max(1, 16_384 / max(1, C)) }

/// Elements per chunk for element-wise kernels; each element is independent, so any chunking gives the same bits.
let elementChunk = 16_384

/// Runs `body` over rows 0..<N in fixed chunks on the `Parallel` workers.
@inline(__always) func forEachRowChunk(N: Int, C: Int, _ body: @Sendable (Range<Int>) -> Void) {
    Parallel.forEachChunk(count: N, chunkSize: rowChunk(C), body)
}

/// A read-only buffer handed to worker threads; kernels never write through it.
@inline(__always) func shared(_ pointer: UnsafePointer<Float>) -> SendablePointer<Float> {
    SendablePointer(UnsafeMutablePointer(mutating: pointer))
}
