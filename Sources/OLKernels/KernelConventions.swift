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

/// Runs `body` over 0..<count in fixed chunks of `chunkSize` and, as one more task handed out first,
/// `serial`: a parameter gradient's sum over all rows in index order on one thread. The two must write
/// disjoint outputs; then the bits are those of running `serial` after the chunks, for any worker count,
/// while the sum overlaps the row work instead of waiting for it.
@inline(__always) func forEachChunk(count: Int, chunkSize: Int, besides serial: @Sendable () -> Void,
                                    _ body: @Sendable (Range<Int>) -> Void) {
    let chunks = (count + chunkSize - 1) / chunkSize
    Parallel.forEachTask(count: 1 + chunks, workers: Parallel.isInsideTask ? 1 : Parallel.workerCount) { task, _ in
        if task == 0 { serial() } else { body((task - 1) * chunkSize ..< min(count, task * chunkSize)) }
    }
}

/// A read-only buffer handed to worker threads; kernels never write through it.
@inline(__always) func shared(_ pointer: UnsafePointer<Float>) -> SendablePointer<Float> {
    SendablePointer(UnsafeMutablePointer(mutating: pointer))
}

/// Calls `body(first, count)` for consecutive groups of up to four rows of `rows` (four, then what is left).
@inline(__always) func forEachRowGroup(_ rows: Range<Int>, _ body: (_ first: Int, _ count: Int) -> Void) {
    var row = rows.lowerBound
    while row < rows.upperBound {
        let count = min(4, rows.upperBound - row)
        body(row, count)
        row += count
    }
}
