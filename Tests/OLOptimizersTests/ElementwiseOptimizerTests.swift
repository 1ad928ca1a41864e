import Foundation
import OLCore
import Testing
@testable import OLOptimizers

/// SGD, AdamW and AdaFactor against plain Double references written out step by step.
/// Tolerances: the optimisers run in Float, so after three steps each value carries a few Float
/// roundings of O(1) numbers (~1e-7 each); atol 2e-6 leaves room for those but is far below every
/// effect tested here (bias correction, ε placement, decay placement all move W by > 1e-4).
@Suite("Element-wise optimisers match hand-computed steps")
struct ElementwiseOptimizerTests {
    static let specs = [
        TensorSpec(name: "w", shape: [3, 4], role: .matrix),
        TensorSpec(name: "gain", shape: [5], role: .vector),
    ]

    /// torch.optim.SGD's algorithm box, written out: g ← g + λθ; b ← g at t = 1, μb + g after; step along
    /// b, or g + μb with Nesterov. Decay applies to the matrix only (the vector's role is not decayed).
    @Test("SGD with momentum, optional Nesterov and L2 weight decay matches torch.optim.SGD for 3 steps",
          arguments: [false, true])
    func sgdMatchesReference(nesterov: Bool) throws {
        var config = SGDConfig()
        config.momentum = 0.8
        config.nesterov = nesterov
        config.weightDecay = 0.5
        let lr = 0.1
        var problem = Problem(Self.specs)
        var optimizer = try SGD(config: config, layout: problem.layout)
        var reference = ["w": problem.values("w"), "gain": problem.values("gain")]
        var buffers = [String: [Double]]()
        for step in 1...3 {
            problem.drawGradients()
            for spec in Self.specs {
                let w = reference[spec.name]!
                let raw = problem.gradient(spec.name)
                let g = spec.role == .matrix ? zip(raw, w).map { $0 + config.weightDecay * $1 } : raw  // L2 into g
                let buf = step == 1 ? g : zip(buffers[spec.name]!, g).map { 0.8 * $0 + $1 }
                buffers[spec.name] = buf
                let direction = nesterov ? zip(g, buf).map { $0 + 0.8 * $1 } : buf
                reference[spec.name] = zip(w, direction).map { $0 - lr * $1 }
            }
            try optimizer.step(parameters: problem.parameters, gradients: problem.gradients, learningRate: Float(lr))
            for spec in Self.specs {
                expectClose(problem.values(spec.name), reference[spec.name]!, atol: 2e-6, "\(spec.name) after step \(step)")
            }
        }
    }

    /// torch.optim.AdamW decays θ ← θ(1 − γλ) before the Adam update; transformers' AdamW adds
    /// −lr·wd·p to p after `p.addcdiv_` ("Add weight decay at the end"). Each convention is written out
    /// with its own ε placement and its own decay position.
    @Test("AdamW matches torch.optim.AdamW (decay before) and Hugging Face's AdamW (decay after) for 3 steps",
          arguments: EpsConvention.allCases)
    func adamWMatchesReference(convention: EpsConvention) throws {
        var config = AdamWConfig()
        config.epsConvention = convention
        config.epsilon = 1e-3  // large enough that where ε enters changes W by > 1e-4
        config.weightDecay = 0.5
        let (lr, b1, b2, eps) = (0.1, config.beta1, config.beta2, config.epsilon)
        var problem = Problem(Self.specs)
        var optimizer = try AdamW(config: config, layout: problem.layout)
        var reference = ["w": problem.values("w"), "gain": problem.values("gain")]
        var m = [String: [Double]](), v = [String: [Double]]()
        for step in 1...3 {
            problem.drawGradients(std: 1e-3)  // gradients comparable to ε
            let t = Double(step)
            for spec in Self.specs {
                let g = problem.gradient(spec.name)
                var w = reference[spec.name]!
                let decays = spec.role == .matrix
                if decays && convention == .torch { w = w.map { $0 * (1 - lr * config.weightDecay) } }
                let mt = zip(m[spec.name] ?? Array(repeating: 0, count: g.count), g).map { b1 * $0 + (1 - b1) * $1 }
                let vt = zip(v[spec.name] ?? Array(repeating: 0, count: g.count), g).map { b2 * $0 + (1 - b2) * $1 * $1 }
                m[spec.name] = mt
                v[spec.name] = vt
                for i in w.indices {
                    switch convention {
                    case .torch:
                        w[i] -= lr / (1 - pow(b1, t)) * mt[i] / (vt[i].squareRoot() / (1 - pow(b2, t)).squareRoot() + eps)
                    case .hf:
                        w[i] -= lr * (1 - pow(b2, t)).squareRoot() / (1 - pow(b1, t)) * mt[i] / (vt[i].squareRoot() + eps)
                    }
                }
                if decays && convention == .hf { w = w.map { $0 - lr * config.weightDecay * $0 } }
                reference[spec.name] = w
            }
            try optimizer.step(parameters: problem.parameters, gradients: problem.gradients, learningRate: Float(lr))
            for spec in Self.specs {
                expectClose(problem.values(spec.name), reference[spec.name]!, atol: 2e-6, "\(convention) \(spec.name) after step \(step)")
            }
        }
    }

    @Test("AdaFactor matches its factored-Adam form for 3 steps: bias correction, full v for vectors, decay after")
    func adaFactorMatchesReference() throws {
        var config = AdaFactorConfig()
        config.weightDecay = 0.5
        config.epsilon = 1e-3
        let (lr, b1, b2, eps) = (0.1, config.beta1, config.beta2, config.epsilon)
        var problem = Problem(Self.specs)
        var optimizer = try AdaFactor(config: config, layout: problem.layout)
        var w = problem.values("w"), gain = problem.values("gain")
        var mW = [Double](repeating: 0, count: 12), r = [Double](repeating: 0, count: 3), c = [Double](repeating: 0, count: 4)
        var mGain = [Double](repeating: 0, count: 5), vGain = [Double](repeating: 0, count: 5)
        for step in 1...3 {
            problem.drawGradients(std: 1e-3)
            let t = Double(step)
            let alpha = lr * (1 - pow(b2, t)).squareRoot() / (1 - pow(b1, t))
            let g = problem.gradient("w")
            for i in 0..<12 { mW[i] = b1 * mW[i] + (1 - b1) * g[i] }
            for i in 0..<3 {
                var rowMean = 0.0
                for j in 0..<4 { rowMean += (g[i * 4 + j] * g[i * 4 + j] + 1e-30) / 4 }
                r[i] = b2 * r[i] + (1 - b2) * rowMean
            }
            for j in 0..<4 {
                var columnMean = 0.0
                for i in 0..<3 { columnMean += (g[i * 4 + j] * g[i * 4 + j] + 1e-30) / 3 }
                c[j] = b2 * c[j] + (1 - b2) * columnMean
            }
            let meanR = r.reduce(0, +) / 3
            for i in 0..<3 {
                for j in 0..<4 { w[i * 4 + j] -= alpha * mW[i * 4 + j] / ((r[i] * c[j] / meanR).squareRoot() + eps) }
            }
            w = w.map { $0 - lr * config.weightDecay * $0 }  // decay after the update
            let gg = problem.gradient("gain")
            for i in 0..<5 {
                mGain[i] = b1 * mGain[i] + (1 - b1) * gg[i]
                vGain[i] = b2 * vGain[i] + (1 - b2) * gg[i] * gg[i]
                gain[i] -= alpha * mGain[i] / (vGain[i].squareRoot() + eps)
            }
            try optimizer.step(parameters: problem.parameters, gradients: problem.gradients, learningRate: Float(lr))
            expectClose(problem.values("w"), w, atol: 2e-6, "w after step \(step)")
            expectClose(problem.values("gain"), gain, atol: 2e-6, "gain after step \(step)")
        }
    }

    @Test("AdaFactor's factored v equals the full v when every squared gradient has rank 1")
    func factoredSecondMomentIsExactForRankOne() throws {
        let spec = TensorSpec(name: "w", shape: [4, 6], role: .matrix)
        let problem = Problem([spec])
        var optimizer = try AdaFactor(layout: problem.layout)
        var stream = RandomStream(seed: 5, purpose: "tests")
        let x = (0..<4).map { _ in stream.nextNormal() }, y = (0..<6).map { _ in stream.nextNormal() }
        var fullV = [Double](repeating: 0, count: 24)
        let b2 = AdaFactorConfig().beta2
        for step in 1...5 {
            let scale = Double(step) * 0.3  // g_t = s_t·x yᵀ, so g_t² = s_t²·(x²)(y²)ᵀ has rank 1
            let g = problem.gradients.view(0)
            for i in 0..<4 { for j in 0..<6 { g[i * 6 + j] = Float(scale * x[i] * y[j]) } }
            for k in 0..<24 { fullV[k] = b2 * fullV[k] + (1 - b2) * Double(g[k]) * Double(g[k]) }
            try optimizer.step(parameters: problem.parameters, gradients: problem.gradients, learningRate: 1e-3)
        }
        let state = optimizer.exportState()
        let r = try stateValues(state, "opt.w.r"), c = try stateValues(state, "opt.w.c")
        let meanR = r.reduce(0, +) / 4
        let factored = (0..<24).map { r[$0 / 6] * c[$0 % 6] / meanR }
        // Float moving averages of O(1) values: ~1e-6 relative after 5 steps; a wrong factorisation is O(1) off.
        expectClose(factored, fullV, rtol: 1e-5, atol: 0, "r cᵀ / mean(r) vs full v")
    }
}
