import CVectorMath
import OLCore

/// QK-Norm's ε (added to each head's RMS of q and k); recorded in goldens.
public let qkNormEpsilon: Float = 1e-5

/// The variants of causal self-attention used by the blocks.
///
/// QK-norm (the OP block's QK-Norm) is an RMSNorm over the head size hs applied to q and k after the
/// projection and before the dot product, eps added to the RMS as in `rmsNormForward`. Its trainable
/// scales g_q and g_k have hs entries each and are **shared by all heads** (one vector per layer, as in
/// the paper's per-dimension scale), so their gradients sum over batch, time and heads.
/// Soft-capping replaces each scaled logit s = q·k/√hs by cap·tanh(s/cap) before the causal softmax.
/// Clipped softmax (`SoftmaxClip`) replaces the probabilities that multiply v by clip((ζ − γ)·p + γ, 0, 1).
public struct AttentionOptions: Sendable, Equatable {
    /// Normalise q and k per head (RMSNorm with shared per-dimension scales).
    public var qkNorm: Bool
    /// Cap of the tanh logit soft-cap; nil disables it (the noNorm ablation uses 30).
    public var softCap: Float?
    /// eps added to the per-head RMS of q and k.
    public var qkNormEps: Float
    /// Clipped softmax (Bondarenko et al. 2023, Eq. 4.1); nil: the plain softmax.
    public var clip: SoftmaxClip?

    public init(qkNorm: Bool = false, softCap: Float? = nil, qkNormEps: Float = qkNormEpsilon, clip: SoftmaxClip? = nil) {
        precondition(softCap.map { $0 > 0 } ?? true, "the soft-cap must be positive")
        self.qkNorm = qkNorm
        self.softCap = softCap
        self.qkNormEps = qkNormEps
        self.clip = clip
    }

    /// Floats of the `clipped` cache: (B, H, T, T) with a clipped softmax, else 0.
    public func clippedCount(B: Int, T: Int, H: Int) -> Int { clip == nil ? 0 : B * H * T * T }

    /// Floats of the `qkNormed` cache: (B, T, 2C) with QK-norm, else 0.
    public func qkNormedCount(B: Int, T: Int, C: Int) -> Int { qkNorm ? B * T * 2 * C : 0 }
    /// Floats of the `qkRms` cache: (B, T, 2H) with QK-norm, else 0.
    public func qkRmsCount(B: Int, T: Int, H: Int) -> Int { qkNorm ? B * T * 2 * H : 0 }
    /// Floats of the backward's scratch: one query block of dlogits per head (B, H, min(T, 32), T),
    /// plus one block of recomputed logits with a soft-cap, plus dq, dk after QK-norm (B, T, 2C) with QK-norm.
    public func backwardScratchCount(B: Int, T: Int, C: Int, H: Int) -> Int {
        B * H * min(T, attentionBlock) * T * (softCap == nil ? 1 : 2) + qkNormedCount(B: B, T: T, C: C)
    }
}

/// Clipped softmax of Bondarenko et al. 2023 (*Quantizable transformers*, Eq. 4.1):
/// P = clip((ζ − γ)·softmax(z) + γ, 0, 1), with γ ≤ 0 ≤ 1 ≤ ζ. With γ < 0 a probability below −γ/(ζ − γ)
/// becomes an exact 0 (and with ζ > 1 one above (1 − γ)/(ζ − γ) an exact 1), so a head can attend to
/// nothing without pushing its logits to ±∞. We follow their parametrisation γ = −α/T with T the model's
/// context length (`ModelConfig.seq`), and ζ = 1 by default; the kernel takes γ and ζ as numbers.
///
/// In float32: u = (ζ − γ)·p + γ with ζ − γ rounded once, a product and a sum (no fused multiply-add),
/// then min(max(u, 0), 1). The backward's derivative is (ζ − γ) where 0 ≤ u ≤ 1 and 0 where the clip
/// is active (u < 0 or u > 1): exact away from the two kinks, and at a kink (u exactly 0 or 1) the
/// one-sided derivative from inside the interval, as `torch.clamp`'s backward chooses.
public struct SoftmaxClip: Sendable, Equatable {
    /// ζ ≥ 1: the stretch's upper end.
    public var zeta: Float
    /// γ ≤ 0: the stretch's lower end.
    public var gamma: Float

    public init(zeta: Float = 1, gamma: Float) {
        precondition(zeta >= 1 && gamma <= 0, "the clipped softmax needs γ ≤ 0 ≤ 1 ≤ ζ")
        self.zeta = zeta
        self.gamma = gamma
    }

    /// γ = −α/T (Bondarenko et al.'s parametrisation) for context length T.
    public init(zeta: Float = 1, alpha: Double, length: Int) {
        self.init(zeta: zeta, gamma: Float(-alpha / Double(length)))
    }

    /// ζ − γ, rounded once; the forward and the backward use this same float.
    @inline(__always) var stretch: Float { zeta - gamma }

    /// clip(stretch·p + γ, 0, 1) of row `p` into `out` over `count` entries.
    @inline(__always) func apply(_ p: UnsafePointer<Float>, into out: UnsafeMutablePointer<Float>, count: Int) {
        let (s, g) = (stretch, gamma)
        for j in 0..<count {
            let u = s * p[j] + g
            out[j] = min(max(u, 0), 1)
        }
    }

    /// dP → dp in place: multiplies by ζ − γ where 0 ≤ u ≤ 1, sets 0 where the clip is active.
    @inline(__always) func backward(_ d: UnsafeMutablePointer<Float>, probs p: UnsafePointer<Float>, count: Int) {
        let (s, g) = (stretch, gamma)
        for j in 0..<count {
            let u = s * p[j] + g
            d[j] = u >= 0 && u <= 1 ? d[j] * s : 0
        }
    }
}

/// Rows per query block: a block's scores (32 × T floats, 16 KB at T = 128) stay in L1/L2 between the
/// products and the softmax; the products compute only the causal entries (j ≤ i).
let attentionBlock = 32

/// Causal multi-head self-attention from a fused qkv buffer. Per (b, h), on its own worker, per row
/// block: S = q kᵀ/√hs over the causal entries (`olab_causal_abt`, fixed fma chains), optional soft-cap,
/// causal softmax in float32 with max-subtraction, optional clip, out = P v (`olab_causal_pb`).
/// `att` keeps the softmax's P (zero above the diagonal) for the backward and for attention entropy;
/// with a clip, `clipped` keeps the clipped P that multiplies v (what `transform` sees as probabilities).
public func attentionForward(
    out: UnsafeMutablePointer<Float>,           // (B, T, C)
    att: UnsafeMutablePointer<Float>,           // (B, H, T, T) softmax probabilities (before any clip)
    clipped: UnsafeMutablePointer<Float>? = nil, // (B, H, T, T) clipped probabilities; nil without a clip
    qkNormed: UnsafeMutablePointer<Float>?,     // (B, T, 2C) normalised, scaled q | k; nil without QK-norm
    qkRms: UnsafeMutablePointer<Float>?,        // (B, T, 2H) per-head RMS of raw q | k; nil without QK-norm
    qkv: UnsafePointer<Float>,                  // (B, T, 3C) q | k | v, head h at columns h·hs ..< (h+1)·hs
    qScale: UnsafePointer<Float>?,              // (hs) g_q; nil without QK-norm
    kScale: UnsafePointer<Float>?,              // (hs) g_k; nil without QK-norm
    B: Int, T: Int, C: Int, H: Int,
    options: AttentionOptions = AttentionOptions(),
    transform: AttentionTransform? = nil        // evaluation only: rewrites q|k after QK-norm, scores, probabilities
) {
    precondition(H > 0 && C % H == 0, "C = \(C) is not divisible by H = \(H)")
    let hs = C / H
    let scale = 1 / Float(hs).squareRoot()
    let input = shared(qkv)
    var qk = input, ld = 3 * C
    if options.qkNorm {
        guard let qkNormed, let qkRms, let qScale, let kScale else {
            preconditionFailure("QK-norm needs the qkNormed and qkRms caches and both scales")
        }
        let (normed, rms, gq, gk) = (SendablePointer(qkNormed), SendablePointer(qkRms), shared(qScale), shared(kScale))
        let eps = options.qkNormEps
        forEachRowChunk(N: B * T, C: 3 * C) { rows in
            for bt in rows {
                for h in 0..<H {
                    for part in 0..<2 {
                        let g = part == 0 ? gq : gk, offset = part * C + h * hs
                        rms[bt * 2 * H + part * H + h] = rmsNormRowForward(
                            out: normed.base + bt * 2 * C + offset, inp: input.base + bt * 3 * C + offset,
                            weight: g.base, count: hs, eps: eps)
                    }
                }
            }
        }
        transform?.normalisedQueriesAndKeys(UnsafeMutableBufferPointer(start: qkNormed, count: B * T * 2 * C), rows: B * T, cols: 2 * C)
        qk = normed
        ld = 2 * C
    }
    let clip = options.clip
    if clip != nil && clipped == nil { preconditionFailure("a clipped softmax needs the clipped cache") }
    let (o, p, source, ldqk, cap) = (SendablePointer(out), SendablePointer(att), qk, ld, options.softCap)
    let clippedBase = clip == nil ? nil : clipped.map { SendablePointer($0) }
    Parallel.forEachChunk(count: B * H, chunkSize: 1) { heads in
        for bh in heads {
            let at = HeadOffsets(bh, T: T, C: C, H: H, ldqk: ldqk)
            let q = source.base + at.q, k = q + C, v = input.base + at.v
            let probs = p.base + at.probs
            // What multiplies v: the softmax's P, or its clipped copy.
            let weights = clippedBase.map { $0.base + at.probs } ?? probs
            for i0 in stride(from: 0, to: T, by: attentionBlock) {
                let i1 = min(T, i0 + attentionBlock)
                // S = q kᵀ/√hs (causal rows), P = softmax(S) (zero right of the diagonal), out = P v.
                olab_causal_abt(q, ldqk, k, ldqk, Int32(i0), Int32(i1), Int32(hs), scale, probs + i0 * T, T)
                if cap == nil && transform == nil {
                    // The plain softmax in one C call per block (the same bits as the rows below).
                    olab_causal_softmax(probs + i0 * T, T, Int32(i0), Int32(i1), Int32(T))
                } else {
                    forEachRowGroup(i0..<i1) { i, group in
                        causalSoftmaxRows(probs + i * T, stride: T, first: i, group: group, cap: cap,
                                          transform: transform, head: bh, transformsProbabilities: clip == nil)
                        for r in i..<(i + group) { zeroFill(probs + r * T + r + 1, count: T - r - 1) }
                    }
                }
                if let clip {
                    for i in i0..<i1 {
                        clip.apply(probs + i * T, into: weights + i * T, count: i + 1)
                        zeroFill(weights + i * T + i + 1, count: T - i - 1)
                        transform?.probabilities(UnsafeMutableBufferPointer(start: weights + i * T, count: i + 1), head: bh, query: i)
                    }
                }
                olab_causal_pb(weights + i0 * T, T, v, 3 * C, Int32(i0), Int32(i1), Int32(hs), 1, 0, o.base + at.o + i0 * C, C)
            }
        }
    }
}

/// Softmax in place of causal rows `first ..< first + group` (≤ 4) of one head's logits (row r at
/// rows + (r − first)·stride, over its first r + 1 entries), with the optional tanh soft-cap applied
/// first; `transform` sees each row's softmax input and output (row `query` of head `head`).
@inline(__always) func causalSoftmaxRows(_ rows: UnsafeMutablePointer<Float>, stride: Int, first: Int, group: Int, cap: Float?,
                                         transform: AttentionTransform? = nil, head: Int = 0, transformsProbabilities: Bool = true) {
    for g in 0..<group {
        let row = rows + g * stride, count = first + g + 1
        if let cap {
            for j in 0..<count { row[j] = cap * tanhf(row[j] / cap) }
        }
        transform?.scores(UnsafeMutableBufferPointer(start: row, count: count), head: head, query: first + g)
    }
    _ = softmaxRows(group, z: { UnsafePointer(rows + $0 * stride) }, p: { rows + $0 * stride }, count: { first + $0 + 1 })
    guard let transform, transformsProbabilities else { return }
    for g in 0..<group {
        transform.probabilities(UnsafeMutableBufferPointer(start: rows + g * stride, count: first + g + 1), head: head, query: first + g)
    }
}

/// Where head h of sequence b lives (bh = b·H + h), in elements: `q` in the q|k source with row stride
/// ldqk (k is C further on), `v` in qkv and dqkv, `o` in out and dout, `probs` in att (B, H, T, T).
struct HeadOffsets {
    let q, v, o, probs: Int

    @inline(__always) init(_ bh: Int, T: Int, C: Int, H: Int, ldqk: Int) {
        let b = bh / H, h = bh % H, hs = C / H
        q = b * T * ldqk + h * hs
        v = b * T * 3 * C + 2 * C + h * hs
        o = b * T * C + h * hs
        probs = bh * T * T
    }
}

/// Softmax backward of one row in place over its first `count` entries: dS = P ⊙ (dP − ⟨P, dP⟩), the dot
/// product summed in 16 fixed lanes, then the lanes in order.
@inline(__always) func softmaxRowBackward(_ dr: UnsafeMutablePointer<Float>, probs pr: UnsafePointer<Float>, count: Int) {
    let vectorEnd = count & ~15
    var dots = SIMD16<Float>(repeating: 0)
    for j in stride(from: 0, to: vectorEnd, by: 16) { dots += loadVector(pr + j) * loadVector(dr + j) }
    var dot = dots.sum()
    for j in vectorEnd..<count { dot += pr[j] * dr[j] }
    let dotv = SIMD16<Float>(repeating: dot)
    for j in stride(from: 0, to: vectorEnd, by: 16) { storeVector(loadVector(pr + j) * (loadVector(dr + j) - dotv), dr + j) }
    for j in vectorEnd..<count { dr[j] = pr[j] * (dr[j] - dot) }
}

/// Backward of `attentionForward`: dqkv += ∂L/∂qkv, and with QK-norm dqScale, dkScale += their
/// gradients (summed over rows and heads in index order on one thread, beside the rows' dqkv). `scratch` holds
/// `options.backwardScratchCount(B:T:C:H:)` floats; its contents on entry are ignored.
public func attentionBackward(
    dqkv: UnsafeMutablePointer<Float>,          // (B, T, 3C)
    dqScale: UnsafeMutablePointer<Float>?,      // (hs); nil without QK-norm
    dkScale: UnsafeMutablePointer<Float>?,      // (hs); nil without QK-norm
    scratch: UnsafeMutablePointer<Float>,       // (backwardScratchCount)
    dout: UnsafePointer<Float>,                 // (B, T, C)
    qkv: UnsafePointer<Float>,                  // (B, T, 3C)
    att: UnsafePointer<Float>,                  // (B, H, T, T) softmax probabilities
    clipped: UnsafePointer<Float>? = nil,       // (B, H, T, T) clipped probabilities; nil without a clip
    qkNormed: UnsafePointer<Float>?,            // (B, T, 2C)
    qkRms: UnsafePointer<Float>?,               // (B, T, 2H)
    qScale: UnsafePointer<Float>?,              // (hs)
    kScale: UnsafePointer<Float>?,              // (hs)
    B: Int, T: Int, C: Int, H: Int,
    options: AttentionOptions = AttentionOptions()
) {
    precondition(H > 0 && C % H == 0, "C = \(C) is not divisible by H = \(H)")
    let hs = C / H
    let scale = 1 / Float(hs).squareRoot()
    let blockRows = min(T, attentionBlock)
    let headBlock = blockRows * T                                         // one query block of one head
    let logitsScratch = scratch + B * H * headBlock
    let dqk = scratch + B * H * headBlock * (options.softCap == nil ? 1 : 2)   // (B, T, 2C)
    let input = shared(qkv), grad = SendablePointer(dqkv)
    var qk = input, ld = 3 * C
    if options.qkNorm {
        guard let qkNormed else { preconditionFailure("QK-norm needs the qkNormed cache") }
        qk = shared(qkNormed)
        ld = 2 * C
    }
    let (source, ldqk, qkNorm, cap, clip) = (qk, ld, options.qkNorm, options.softCap, options.clip)
    if clip != nil && clipped == nil { preconditionFailure("a clipped softmax needs the clipped cache") }
    let clippedBase = clip == nil ? nil : clipped.map { shared($0) }
    let (dy, p, dlogits, logits, dqkDestination) = (shared(dout), shared(att), SendablePointer(scratch),
                                                   SendablePointer(logitsScratch), SendablePointer(dqk))
    // One pass over the query blocks: block [i0, i1) computes its dS (causal entries j ≤ i only; the
    // products never read the rest) in a block-sized scratch that stays in cache, then adds its share of
    // dq, and of dk, dv for keys 0 ..< i1 (blocks and rows in increasing order: deterministic).
    Parallel.forEachChunk(count: B * H, chunkSize: 1) { heads in
        for bh in heads {
            let at = HeadOffsets(bh, T: T, C: C, H: H, ldqk: ldqk)
            let q = source.base + at.q, k = q + C, v = input.base + at.v
            let dv = grad.base + at.v, dO = dy.base + at.o
            let probs = p.base + at.probs
            let weights = clippedBase.map { $0.base + at.probs } ?? probs   // what multiplied v
            let ds = dlogits.base + bh * headBlock
            let z = logits.base + bh * headBlock
            // dq = dS k /√hs, dk = dSᵀ q /√hs: straight into dqkv, or into dqk (same layout as the q|k
            // source) for the QK-norm backward (this head's columns cleared first, as every block accumulates).
            let dq = (qkNorm ? dqkDestination.base : grad.base) + at.q, ldd = ldqk
            if qkNorm {
                for t in 0..<T {
                    (dq + t * ldd).update(repeating: 0, count: hs)
                    (dq + C + t * ldd).update(repeating: 0, count: hs)
                }
            }
            for i0 in stride(from: 0, to: T, by: attentionBlock) {
                let i1 = min(T, i0 + attentionBlock)
                // dP = dO vᵀ (causal rows; the kernels below read only columns j <= i).
                olab_causal_abt(dO, C, v, 3 * C, Int32(i0), Int32(i1), Int32(hs), 1, ds, T)
                if cap != nil {
                    olab_causal_abt(q, ldqk, k, ldqk, Int32(i0), Int32(i1), Int32(hs), scale, z, T)
                }
                for i in i0..<i1 {
                    let dr = ds + (i - i0) * T
                    clip?.backward(dr, probs: probs + i * T, count: i + 1)
                    softmaxRowBackward(dr, probs: probs + i * T, count: i + 1)
                    if let cap {
                        let zr = z + (i - i0) * T
                        for j in 0...i {
                            let t = tanhf(zr[j] / cap)
                            dr[j] *= 1 - t * t
                        }
                    }
                }
                // dq[i0 ..< i1] += dS k /√hs; dk[0 ..< i1] += dSᵀ q /√hs and dv[0 ..< i1] += Pᵀ dO over this
                // block's rows, rows in increasing order (deterministic).
                olab_causal_pb(ds, T, k, ldqk, Int32(i0), Int32(i1), Int32(hs), scale, 1, dq + i0 * ldd, ldd)
                olab_causal_ptb(ds, T, q, ldqk, Int32(i0), Int32(i1), Int32(hs), scale, dq + C, ldd)
                olab_causal_ptb(weights + i0 * T, T, dO, C, Int32(i0), Int32(i1), Int32(hs), 1, dv, 3 * C)
            }
        }
    }
    guard qkNorm else { return }
    guard let qkRms, let qScale, let kScale, let dqScale, let dkScale else {
        preconditionFailure("QK-norm needs the qkRms cache, both scales and both scale gradients")
    }
    let (rms, gq, gk, eps) = (shared(qkRms), shared(qScale), shared(kScale), options.qkNormEps)
    let (dgq, dgk, x, dnormed) = (SendablePointer(dqScale), SendablePointer(dkScale), input, SendablePointer(dqk))
    // The scales' gradients (over rows and heads in order, one thread) beside the row chunks of dqkv.
    forEachChunk(count: B * T, chunkSize: rowChunk(3 * C), besides: {
        for bt in 0..<(B * T) {
            for part in 0..<2 {
                let dg = part == 0 ? dgq : dgk
                for h in 0..<H {
                    let offset = part * C + h * hs
                    let xr = x.base + bt * 3 * C + offset, d = dnormed.base + bt * 2 * C + offset
                    let s = 1 / (rms[bt * 2 * H + part * H + h] + eps)
                    for i in 0..<hs { dg[i] += d[i] * xr[i] * s }
                }
            }
        }
    }) { rows in
        for bt in rows {
            for h in 0..<H {
                for part in 0..<2 {
                    let g = part == 0 ? gq : gk, offset = part * C + h * hs
                    rmsNormRowBackward(
                        dinp: grad.base + bt * 3 * C + offset, dout: dqkDestination.base + bt * 2 * C + offset,
                        inp: input.base + bt * 3 * C + offset, weight: g.base,
                        rms: rms[bt * 2 * H + part * H + h], count: hs, eps: eps)
                }
            }
        }
    }
}
