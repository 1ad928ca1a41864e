import OLCore
import OLPlatform

/// Hyper-parameters of AdamW.
public struct AdamWConfig: AdamFamilySettings, OptimizerSettings, Equatable {
    /// Default peak learning rate for the trainer's schedule.
    public var learningRate: Double = 1e-3
    public var beta1: Double = 0.9
    public var beta2: Double = 0.95
    public var epsilon: Double = 1e-8
    public var epsConvention: EpsConvention = .torch
    /// Decoupled decay, torch's default strength; applied before the update (`torch`) or after it (`hf`).
    public var weightDecay: Double = 0.01
    public var decayedRoles: Set<ParameterRole> = defaultDecayedRoles

    public init() {}

    public func validate() throws { try validateAdamFamily() }
    var kind: OptimizerKind { .adamw }
    static let acceptedSettings: Set<OptimizerSetting> = [.beta1, .beta2, .eps, .epsConvention]
    func makeOptimizer(layout: ArenaLayout) throws -> any Optimizer { try AdamW(config: self, layout: layout) }

    var hyperParameters: [(name: String, value: Double)] {
        [("lr", learningRate), ("beta1", beta1), ("beta2", beta2), ("eps", epsilon),
         ("eps_convention_hf", epsConvention == .hf ? 1 : 0), ("weight_decay", weightDecay)]
    }
}

/// AdamW in two libraries' forms, all roles element-wise (decay on decayed roles only):
///   torch (torch.optim.AdamW):  W ← W·(1 − lr·wd);  then the Adam update
///                               W ← W − (lr/(1−β₁ᵗ)) · m / (√v / √(1−β₂ᵗ) + ε)
///   hf (transformers' AdamW):   the Adam update W ← W − (lr·√(1−β₂ᵗ)/(1−β₁ᵗ)) · m / (√v + ε);
///                               then W ← W − lr·wd·W (decay AFTER the update, on the updated W)
///   both: t ← t+1;  m ← β₁m + (1−β₁)g;  v ← β₂v + (1−β₂)g²  before the update.
/// Scalar factors (step sizes, √(1−β₂ᵗ), 1 − lr·wd, lr·wd) are computed in Double and rounded once to
/// Float; everything element-wise is Float. (torch's `lerp` for m rounds differently: agreement is to ~1 ulp.)
/// State: `opt.<p>.step`, `opt.<p>.m`, `opt.<p>.v`.
public struct AdamW: ElementwiseOptimizer {
    public let config: AdamWConfig
    public let layout: ArenaLayout
    public var kind: OptimizerKind { .adamw }
    var states: TensorStates<AdamState>

    public init(config: AdamWConfig = AdamWConfig(), layout: ArenaLayout) throws {
        try config.validate()
        self.config = config
        self.layout = layout
        states = TensorStates(count: layout.specs.count)
    }

    public mutating func step(parameters: FloatArena, gradients: FloatArena, learningRate: Float) throws {
        let config = config
        let eps = Float(config.epsilon)
        let decayFactor = Float(1 - Double(learningRate) * config.weightDecay)  // torch, before the update
        let decayAfter = Float(Double(learningRate) * config.weightDecay)        // hf, after the update
        let torch = config.epsConvention == .torch
        try states.step(layout, parameters: parameters, gradients: gradients, learningRate: learningRate, decayedRoles: config.decayedRoles,
                        weightDecay: config.weightDecay, fresh: Self.fresh) { spec, state, w, g, decays in
            state.step += 1
            let t = Double(state.step)
            let stepSize: Float, bias2Sqrt: Float
            switch config.epsConvention {
            case .torch:
                stepSize = Float(Double(learningRate) / (1 - OLPlatform.pow(config.beta1, t)))
                bias2Sqrt = Float((1 - OLPlatform.pow(config.beta2, t)).squareRoot())
            case .hf:
                stepSize = hfStepSize(learningRate: learningRate, beta1: config.beta1, beta2: config.beta2, step: state.step)
                bias2Sqrt = 1
            }
            state.withMoments(beta1: config.beta1, beta2: config.beta2) { m, v, b1, c1, b2, c2 in
                forEachElementChunk(spec.count) { range in
                    // Sixteen lanes at a time, each the scalar tail's arithmetic (same bits).
                    forEachLane(range) { i in
                        let (wp, gp, mp, vp) = (w.base + i, g.base + i, m.base + i, v.base + i)
                        var wv = loadVector(wp)
                        if decays && torch { wv = wv * SIMD16(repeating: decayFactor) }
                        let gv = loadVector(gp)
                        let mv = SIMD16(repeating: b1) * loadVector(mp) + SIMD16(repeating: c1) * gv
                        let vv = SIMD16(repeating: b2) * loadVector(vp) + SIMD16(repeating: c2) * (gv * gv)
                        storeVector(mv, mp)
                        storeVector(vv, vp)
                        let denominator = torch ? vv.squareRoot() / SIMD16(repeating: bias2Sqrt) + SIMD16(repeating: eps)
                                                : vv.squareRoot() + SIMD16(repeating: eps)
                        wv = wv - SIMD16(repeating: stepSize) * (mv / denominator)
                        if decays && !torch { wv = wv - SIMD16(repeating: decayAfter) * wv }
                        storeVector(wv, wp)
                    } tail: { i in
                        if decays && torch { w[i] = w[i] * decayFactor }
                        m[i] = b1 * m[i] + c1 * g[i]
                        v[i] = b2 * v[i] + c2 * (g[i] * g[i])
                        let denominator = torch ? v[i].squareRoot() / bias2Sqrt + eps : v[i].squareRoot() + eps
                        w[i] = w[i] - stepSize * (m[i] / denominator)
                        if decays && !torch { w[i] = w[i] - decayAfter * w[i] }
                    }
                }
            }
        }
    }

    static func fresh(_ spec: TensorSpec) -> AdamState { AdamState(count: spec.count) }

    /// The state table: `opt.<p>.m` and `opt.<p>.v`, shaped like the parameter.
    static func stateFields(_ spec: TensorSpec) -> [StateField<AdamState>] {
        [StateField(name: "m", shape: spec.shape, values: \.m), StateField(name: "v", shape: spec.shape, values: \.v)]
    }
}

/// Adam's per-tensor state: step count and the two moments, element-wise.
struct AdamState: TensorState {
    var step = 0
    var m: [Float]
    var v: [Float]

    init(count: Int) {
        m = Array(repeating: 0, count: count)
        v = Array(repeating: 0, count: count)
    }

    /// Calls `body` with pointers to m and v and the Float coefficients β₁, 1−β₁, β₂, 1−β₂
    /// (the complements computed in Double, then rounded).
    mutating func withMoments(
        beta1: Double, beta2: Double,
        _ body: (SendablePointer<Float>, SendablePointer<Float>, Float, Float, Float, Float) -> Void
    ) {
        m.withUnsafeMutableBufferPointer { mView in
            v.withUnsafeMutableBufferPointer { vView in
                body(SendablePointer(mView), SendablePointer(vView), Float(beta1), Float(1 - beta1), Float(beta2), Float(1 - beta2))
            }
        }
    }
}
