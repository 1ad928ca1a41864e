import OLCore

/// Softmax over V logits and the per-token cross-entropy loss −log p[target].
/// The loss is computed as logsumexp − logit[target] (no log of an underflowed probability).
public func crossEntropyForward(
    losses: UnsafeMutablePointer<Float>,    // (N)
    probs: UnsafeMutablePointer<Float>,     // (N, V)
    logits: UnsafePointer<Float>,           // (N, V)
    targets: UnsafePointer<Int32>,          // (N)
    N: Int, V: Int
) {
    for row in 0..<N {
        precondition(targets[row] >= 0 && Int(targets[row]) < V, "target \(targets[row]) outside 0..<\(V)")
    }
    let (l, p, z, y) = (SendablePointer(losses), SendablePointer(probs), shared(logits),
                        SendablePointer(UnsafeMutablePointer(mutating: targets)))
    forEachRowChunk(N: N, C: V) { rows in
        forEachRowGroup(rows) { row, group in
            let (maxes, sums) = softmaxRows(group, z: { UnsafePointer(z.base + (row + $0) * V) }, p: { p.base + (row + $0) * V }, count: { _ in V })
            for g in 0..<group { l[row + g] = logf(sums[g]) + maxes[g] - z[(row + g) * V + Int(y[row + g])] }
        }
    }
}

/// The mean of `count` per-token losses, summed in Double in index order.
public func meanLoss(_ losses: UnsafePointer<Float>, count: Int) -> Double {
    var sum = 0.0
    for i in 0..<count { sum += Double(losses[i]) }
    return count > 0 ? sum / Double(count) : 0
}

/// dlogits += (probs − onehot(target)) · dloss; for the mean loss the caller passes dloss = 1/N.
public func crossEntropyBackward(
    dlogits: UnsafeMutablePointer<Float>,   // (N, V)
    dlosses: UnsafePointer<Float>,          // (N)
    probs: UnsafePointer<Float>,            // (N, V)
    targets: UnsafePointer<Int32>,          // (N)
    N: Int, V: Int
) {
    let (dz, dl, p, y) = (SendablePointer(dlogits), shared(dlosses), shared(probs),
                          SendablePointer(UnsafeMutablePointer(mutating: targets)))
    forEachRowChunk(N: N, C: V) { rows in
        for row in rows {
            let dzr = dz.base + row * V, pr = p.base + row * V
            let d = dl[row], target = Int(y[row])
            for i in 0..<V { dzr[i] += (pr[i] - (i == target ? 1 : 0)) * d }
        }
    }
}
