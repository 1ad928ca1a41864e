import OLCore
#if canImport(Glibc)
import Glibc
#else
import Darwin
#endif

// Gated attention (Bondarenko et al. 2023, *Quantizable transformers*, §4.2 Eq. 4.2):
//   Gated_attention(x) = σ(G(x)) ⊙ softmax(Q(x) K(x)ᵀ/√d_h) V(x)
// with G a linear map of the attention block's input x (the same tensor the fused qkv projection reads)
// to one logit per head: π[n, h] = σ(x[n] · W_g[h] + b_g[h]), W_g (H, C), b_g (H). Each head's output
// (its hs columns of the attention output, before the output projection) is multiplied by its gate.

/// out[n, h·hs + i] = π[n, h] · y[n, h·hs + i] with π = σ(x W_gᵀ + b_g). `gate` keeps π for the backward.
/// The logit of each (row, head) is b_g[h] plus the dot product summed in index order, one row per task.
public func attentionGateForward(
    out: UnsafeMutablePointer<Float>,           // (N, C) gated attention output
    gate: UnsafeMutablePointer<Float>,          // (N, H) π
    inp: UnsafePointer<Float>,                  // (N, C) attention output y before the gate
    x: UnsafePointer<Float>,                    // (N, C) the attention block's input
    weight: UnsafePointer<Float>,               // (H, C) W_g
    bias: UnsafePointer<Float>,                 // (H) b_g
    N: Int, C: Int, H: Int
) {
    precondition(H > 0 && C % H == 0, "C = \(C) is not divisible by H = \(H)")
    let hs = C / H
    let (o, g, y, xs, w, b) = (SendablePointer(out), SendablePointer(gate), shared(inp), shared(x), shared(weight), shared(bias))
    forEachRowChunk(N: N, C: C * (H + 1)) { rows in
        for n in rows {
            let xr = xs.base + n * C
            for h in 0..<H {
                var logit = b.base[h]
                let wr = w.base + h * C
                for c in 0..<C { logit += xr[c] * wr[c] }
                let pi = 1 / (1 + expf(-logit))
                g.base[n * H + h] = pi
                let yr = y.base + n * C + h * hs, orow = o.base + n * C + h * hs
                for i in 0..<hs { orow[i] = pi * yr[i] }
            }
        }
    }
}

/// Backward of `attentionGateForward`: dinp += π ⊙ dout, dx += dlogits W_g, dweight += dlogitsᵀ x,
/// dbias += Σ_n dlogits, with dlogits[n, h] = π(1 − π) · Σ_i dout·y over head h's columns. `scratch`
/// (N·H floats, contents ignored) holds dlogits; the parameter sums run over rows in index order on one
/// thread beside the row chunks of dx.
public func attentionGateBackward(
    dinp: UnsafeMutablePointer<Float>,          // (N, C) ∂L/∂y
    dx: UnsafeMutablePointer<Float>,            // (N, C) ∂L/∂x
    dweight: UnsafeMutablePointer<Float>,       // (H, C)
    dbias: UnsafeMutablePointer<Float>,         // (H)
    scratch: UnsafeMutablePointer<Float>,       // (N, H) dlogits
    dout: UnsafePointer<Float>,                 // (N, C)
    inp: UnsafePointer<Float>,                  // (N, C) y
    x: UnsafePointer<Float>,                    // (N, C)
    weight: UnsafePointer<Float>,               // (H, C)
    gate: UnsafePointer<Float>,                 // (N, H) π from the forward
    N: Int, C: Int, H: Int
) {
    precondition(H > 0 && C % H == 0, "C = \(C) is not divisible by H = \(H)")
    let hs = C / H
    let (dy, dl, d, y, g) = (SendablePointer(dinp), SendablePointer(scratch), shared(dout), shared(inp), shared(gate))
    forEachRowChunk(N: N, C: C) { rows in
        for n in rows {
            for h in 0..<H {
                let pi = g.base[n * H + h]
                let dr = d.base + n * C + h * hs, yr = y.base + n * C + h * hs, dyr = dy.base + n * C + h * hs
                var dot: Float = 0
                for i in 0..<hs {
                    dot += dr[i] * yr[i]
                    dyr[i] += pi * dr[i]
                }
                dl.base[n * H + h] = dot * pi * (1 - pi)
            }
        }
    }
    let (dxs, dw, db, xs, w) = (SendablePointer(dx), SendablePointer(dweight), SendablePointer(dbias), shared(x), shared(weight))
    forEachChunk(count: N, chunkSize: rowChunk(C * H), besides: {
        for n in 0..<N {
            let xr = xs.base + n * C
            for h in 0..<H {
                let dlogit = dl.base[n * H + h]
                db.base[h] += dlogit
                let dwr = dw.base + h * C
                for c in 0..<C { dwr[c] += dlogit * xr[c] }
            }
        }
    }) { rows in
        for n in rows {
            let dxr = dxs.base + n * C
            for h in 0..<H {
                let dlogit = dl.base[n * H + h], wr = w.base + h * C
                for c in 0..<C { dxr[c] += dlogit * wr[c] }
            }
        }
    }
}
