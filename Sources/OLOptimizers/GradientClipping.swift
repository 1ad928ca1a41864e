import OLCore

/// Global gradient-norm clipping, as the trainer (and the benchmark) steps: the norm of every gradient
/// together, the squares summed in Double (`GradientNorm.squaredSum`); when the norm is finite and above
/// `maxNorm` (> 0), every gradient is scaled by maxNorm/norm (rounded once to Float). Returns the norm
/// before clipping; a non-finite norm leaves the gradients alone for the caller to report.
@discardableResult
public func clipGlobalNorm(_ gradients: FloatArena, maxNorm: Double) -> Double {
    let norm = GradientNorm.squaredSum(UnsafeBufferPointer(gradients.storage)).squareRoot()
    if norm.isFinite && maxNorm > 0 && norm > maxNorm {
        let scale = Float(maxNorm / norm)
        let g = SendablePointer(gradients.storage)
        Parallel.forEachChunk(count: gradients.storage.count, chunkSize: GradientNorm.chunk) { range in
            forEachLane(range) { i in storeVector(loadVector(g.base + i) * SIMD16(repeating: scale), g.base + i) }
                tail: { i in g[i] *= scale }
        }
    }
    return norm
}

/// Σ g² in Double, in an order fixed by the length alone: the values are cut into chunks of `chunk`
/// elements; inside a chunk, element i goes to lane i mod 16 of sixteen Double chains (each in index
/// order), and the lanes are added in lane order; the chunks' sums are added in chunk order. So the
/// bits are the same for any worker count (chunks run on the `Parallel` workers), while sixteen chains
/// and two cores replace one 3-million-long chain of dependent adds (2 ms of a bench step). Every term
/// is exact in Double (a Float square has 48 significant bits), so only the adds round: the result
/// agrees with any other Double order to about 1e-15 relative, far inside what a Float scale resolves.
public enum GradientNorm {
    /// Elements per chunk (a multiple of 16).
    public static let chunk = 1 << 15

    public static func squaredSum(_ values: UnsafeBufferPointer<Float>) -> Double {
        let count = values.count
        guard count > 0 else { return 0 }
        let chunks = (count + chunk - 1) / chunk
        // On the stack up to a few thousand chunks (a step allocates nothing), beyond that on the heap.
        return withUnsafeTemporaryAllocation(of: Double.self, capacity: chunks) { partial in
            let (x, sums) = (SendablePointer(UnsafeMutablePointer(mutating: values.baseAddress!)), SendablePointer(partial))
            Parallel.forEachChunk(count: chunks, chunkSize: 1) { range in
                for c in range {
                    let start = c * chunk
                    sums[c] = laneSquaredSum(x.base + start, count: min(chunk, count - start))
                }
            }
            var total = 0.0
            for c in 0..<chunks { total += partial[c] }
            return total
        }
    }

    /// Sixteen Double chains over `count` values (element i in lane i mod 16), then the lanes in order.
    @inline(__always) static func laneSquaredSum(_ p: UnsafeMutablePointer<Float>, count: Int) -> Double {
        var low = SIMD8<Double>(repeating: 0), high = SIMD8<Double>(repeating: 0)
        var tail = SIMD16<Double>(repeating: 0)
        forEachLane(count) { i in
            let v = loadVector(p + i)
            let (a, b) = (SIMD8<Double>(v.lowHalf), SIMD8<Double>(v.highHalf))
            low += a * a
            high += b * b
        } tail: { i in
            let d = Double(p[i])
            tail[i & 15] = d * d
        }
        var total = 0.0
        for lane in 0..<8 { total += low[lane] + tail[lane] }
        for lane in 0..<8 { total += high[lane] + tail[lane + 8] }
        return total
    }
}
