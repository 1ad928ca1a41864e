import Foundation

/// Plain Double-precision versions of every kernel: written for clarity, not speed, with the same
/// conventions (row-major, W stored (OC, C), qkv as q | k | v with head h at columns h·hs ..< (h+1)·hs).
/// Kept in one file so other test targets and the golden tooling can reuse them.
enum Reference {
    /// out[n, o] = Σ_c inp[n, c] · weight[o, c].
    static func matmul(inp: [Double], weight: [Double], N: Int, C: Int, OC: Int) -> [Double] {
        var out = [Double](repeating: 0, count: N * OC)
        for n in 0..<N {
            for o in 0..<OC {
                var sum = 0.0
                for c in 0..<C { sum += inp[n * C + c] * weight[o * C + c] }
                out[n * OC + o] = sum
            }
        }
        return out
    }

    /// out = alpha · op(a) · op(b) + beta · c on row-major matrices with leading dimensions.
    static func gemm(transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int, alpha: Double,
                     a: [Double], lda: Int, b: [Double], ldb: Int, beta: Double, c: [Double], ldc: Int) -> [Double] {
        var out = c
        for i in 0..<m {
            for j in 0..<n {
                var sum = 0.0
                for p in 0..<k {
                    let aValue = transposeA ? a[p * lda + i] : a[i * lda + p]
                    let bValue = transposeB ? b[j * ldb + p] : b[p * ldb + j]
                    sum += aValue * bValue
                }
                out[i * ldc + j] = alpha * sum + beta * c[i * ldc + j]
            }
        }
        return out
    }

    static func embedding(tokens: [Int32], wte: [Double], wpe: [Double], B: Int, T: Int, C: Int) -> [Double] {
        var out = [Double](repeating: 0, count: B * T * C)
        for b in 0..<B {
            for t in 0..<T {
                for c in 0..<C {
                    out[(b * T + t) * C + c] = wte[Int(tokens[b * T + t]) * C + c] + wpe[t * C + c]
                }
            }
        }
        return out
    }

    /// LayerNorm with biased variance; also returns the per-row mean and 1/√(var + eps).
    static func layerNorm(x: [Double], weight: [Double], bias: [Double], N: Int, C: Int,
                          eps: Double = 1e-5) -> (out: [Double], mean: [Double], rstd: [Double]) {
        var out = [Double](repeating: 0, count: N * C)
        var means = [Double](repeating: 0, count: N), rstds = means
        for n in 0..<N {
            let row = x[n * C ..< (n + 1) * C]
            let mean = row.reduce(0, +) / Double(C)
            let variance = row.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(C)
            let rstd = 1 / (variance + eps).squareRoot()
            for c in 0..<C { out[n * C + c] = (x[n * C + c] - mean) * rstd * weight[c] + bias[c] }
            means[n] = mean
            rstds[n] = rstd
        }
        return (out, means, rstds)
    }

    /// RMSNorm of each row of `count` values: x / (√mean x² + eps) · weight.
    static func rmsNorm(x: [Double], weight: [Double], N: Int, C: Int, eps: Double = 1e-5) -> [Double] {
        var out = [Double](repeating: 0, count: N * C)
        for n in 0..<N {
            let rms = (x[n * C ..< (n + 1) * C].map { $0 * $0 }.reduce(0, +) / Double(C)).squareRoot()
            for c in 0..<C { out[n * C + c] = x[n * C + c] / (rms + eps) * weight[c] }
        }
        return out
    }

    /// x · √C / ‖x‖ per row.
    static func srmsNorm(x: [Double], N: Int, C: Int) -> [Double] {
        var out = [Double](repeating: 0, count: N * C)
        for n in 0..<N {
            let norm = x[n * C ..< (n + 1) * C].map { $0 * $0 }.reduce(0, +).squareRoot()
            for c in 0..<C { out[n * C + c] = x[n * C + c] * Double(C).squareRoot() / norm }
        }
        return out
    }

    static func relu(_ x: [Double]) -> [Double] { x.map { max($0, 0) } }

    static func gelu(_ x: [Double]) -> [Double] {
        x.map { 0.5 * $0 * (1 + tanh((2 / Double.pi).squareRoot() * ($0 + 0.044715 * $0 * $0 * $0))) }
    }

    /// Causal multi-head attention, optionally with per-head QK RMSNorm (scales shared across heads)
    /// and a tanh soft-cap of the scaled logits. Returns the output and the probabilities (B, H, T, T).
    static func attention(qkv: [Double], qScale: [Double]?, kScale: [Double]?, B: Int, T: Int, C: Int, H: Int,
                          softCap: Double?, eps: Double = 1e-5, clip: (zeta: Double, gamma: Double)? = nil) -> (out: [Double], probs: [Double]) {
        let hs = C / H
        func vector(_ b: Int, _ t: Int, _ part: Int, _ h: Int) -> [Double] {
            let start = (b * T + t) * 3 * C + part * C + h * hs
            let raw = Array(qkv[start ..< start + hs])
            guard part < 2, let scales = part == 0 ? qScale : kScale else { return raw }
            let rms = (raw.map { $0 * $0 }.reduce(0, +) / Double(hs)).squareRoot()
            return (0..<hs).map { raw[$0] / (rms + eps) * scales[$0] }
        }
        var out = [Double](repeating: 0, count: B * T * C)
        var probs = [Double](repeating: 0, count: B * H * T * T)
        for b in 0..<B {
            for h in 0..<H {
                let q = (0..<T).map { vector(b, $0, 0, h) }
                let k = (0..<T).map { vector(b, $0, 1, h) }
                let v = (0..<T).map { vector(b, $0, 2, h) }
                for i in 0..<T {
                    var logits = (0...i).map { j in
                        zip(q[i], k[j]).map { $0 * $1 }.reduce(0, +) / Double(hs).squareRoot()
                    }
                    if let cap = softCap { logits = logits.map { cap * tanh($0 / cap) } }
                    let maxLogit = logits.max()!
                    let exps = logits.map { exp($0 - maxLogit) }
                    let sum = exps.reduce(0, +)
                    for j in 0...i {
                        let p = exps[j] / sum
                        probs[((b * H + h) * T + i) * T + j] = p
                        // Clipped softmax (Bondarenko et al. Eq. 4.1): v is weighted by clip((ζ − γ)p + γ, 0, 1).
                        let weight = clip.map { min(max(($0.zeta - $0.gamma) * p + $0.gamma, 0), 1) } ?? p
                        for d in 0..<hs { out[(b * T + i) * C + h * hs + d] += weight * v[j][d] }
                    }
                }
            }
        }
        return (out, probs)
    }

    /// Per-row softmax probabilities and losses −log p[target].
    static func crossEntropy(logits: [Double], targets: [Int32], N: Int, V: Int) -> (losses: [Double], probs: [Double]) {
        var losses = [Double](repeating: 0, count: N), probs = [Double](repeating: 0, count: N * V)
        for n in 0..<N {
            let row = logits[n * V ..< (n + 1) * V]
            let maxLogit = row.max()!
            let sum = row.map { exp($0 - maxLogit) }.reduce(0, +)
            for v in 0..<V { probs[n * V + v] = exp(logits[n * V + v] - maxLogit) / sum }
            losses[n] = log(sum) + maxLogit - logits[n * V + Int(targets[n])]
        }
        return (losses, probs)
    }

    /// Gated attention's gate: out[n, h·hs + i] = σ(x[n]·W[h] + b[h]) · y[n, h·hs + i].
    static func attentionGate(y: [Double], x: [Double], weight: [Double], bias: [Double], N: Int, C: Int, H: Int) -> [Double] {
        let hs = C / H
        var out = [Double](repeating: 0, count: N * C)
        for n in 0..<N {
            for h in 0..<H {
                let logit = bias[h] + (0..<C).reduce(0.0) { $0 + x[n * C + $1] * weight[h * C + $1] }
                let gate = 1 / (1 + exp(-logit))
                for i in 0..<hs { out[n * C + h * hs + i] = gate * y[n * C + h * hs + i] }
            }
        }
        return out
    }

    static func residual(x: [Double], branch: [Double], beta: Double) -> [Double] {
        zip(x, branch).map { $0 + beta * $1 }
    }
}
