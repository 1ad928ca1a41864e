/// The floating-point work of one SOAP step beyond the model's own, counted from the tensor shapes: what
/// no implementation of the algorithm can skip, so with the machine's best matrix-product rate it bounds
/// how close a SOAP step can come to an AdamW step (`olab bench` prints that bound).
///
/// Per rows×cols tensor, a rotated side of size n (n = rows on the left, cols on the right):
/// - rotations: g' = Q_Lᵀ g Q_R and u = Q_L D Q_Rᵀ, one product of 2·rows·cols·n flops per side each;
/// - statistics: GG ← β·GG + (1−β)·g gᵀ (or gᵀg) by ssyrk, n²·(rows·cols/n) flops per side (one triangle);
/// - refresh, every f steps: GG·Q (2n³), Householder QR of it and its Q factor (sgeqrf and sorgqr, 4n³/3
///   each: LAPACK Working Note 41's counts for square matrices), plus M carried from the old basis to the
///   new one (two rotations); divided by f. The estimates (QᵀGGQ)_jj and the sort are O(n²) and not counted.
/// The element-wise moment updates are not counted either: they are memory-bound, like AdamW's whole step.
public struct SOAPArithmetic: Sendable, Equatable {
    public var rotations = 0.0
    public var statistics = 0.0
    /// Refresh work per step (one refresh's work over f).
    public var refreshPerStep = 0.0

    public var total: Double { rotations + statistics + refreshPerStep }
}

extension SOAP {
    /// This optimiser's `SOAPArithmetic` per step. The random-rotation basis has no statistics and no
    /// refresh; the identity basis (AdaFactor) has no rotations.
    public var arithmetic: SOAPArithmetic {
        var work = SOAPArithmetic()
        let shampoo = config.basis == .shampoo
        let f = Double(max(1, config.preconditionFrequency))
        for route in routes {
            let (rows, cols, count) = (Double(route.rows), Double(route.cols), Double(route.count))
            for (rotated, n) in [(route.left, rows), (route.right, cols)] where rotated {
                let rotation = 2 * count * n
                work.rotations += 2 * rotation                     // forward and back, every step
                guard shampoo else { continue }
                work.statistics += n * count                       // ssyrk: n² · (count / n)
                let momentum = config.rotateMomentumEveryStep ? 2 * rotation : 2 * rotation / f
                if config.rotateMomentumEveryStep { work.rotations += momentum } else { work.refreshPerStep += momentum }
                work.refreshPerStep += (2 + 8.0 / 3) * n * n * n / f
            }
        }
        return work
    }
}
