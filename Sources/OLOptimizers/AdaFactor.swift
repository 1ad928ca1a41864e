import OLCore

/// Hyper-parameters of AdaFactor in its "Adam with a factored second moment" form.
public struct AdaFactorConfig: Sendable, Equatable {
    /// Default peak learning rate for the trainer's schedule.
    public var learningRate: Double = 1e-3
    /// Momentum β₁ (the paper's AdaFactor keeps first-moment momentum).
    public var beta1: Double = 0.9
    /// Fixed β₂ (no AdaFactor-style β₂ schedule).
    public var beta2: Double = 0.95
    public var epsilon: Double = 1e-8
    public var weightDecay: Double = 0.01
    public var decayedRoles: Set<ParameterRole> = defaultDecayedRoles

    public init() {}

    public func validate() throws {
        try Check.learningRate(learningRate)
        try Check.beta(beta1, "beta1")
        try Check.beta(beta2, "beta2")
        try Check.nonNegative(epsilon, "epsilon")
        try Check.nonNegative(weightDecay, "weight decay")
    }

    var hyperParameters: [(name: String, value: Double)] {
        [("lr", learningRate), ("beta1", beta1), ("beta2", beta2), ("eps", epsilon), ("weight_decay", weightDecay)]
    }
}

/// AdaFactor as the paper uses it: Adam whose second moment of a 2-D tensor (matrix or embedding role)
/// is factored into row and column statistics,
///   r ← β₂r + (1−β₂)·rowmean(g²+1e-30),  c ← β₂c + (1−β₂)·colmean(g²+1e-30),  v̂ = r cᵀ / mean(r);
/// vectors and scalars keep a full v. SOAP's conventions otherwise: t ← t+1, m ← β₁m + (1−β₁)g,
/// W ← W − α · m/(√v̂ + ε) with α = lr·√(1−β₂ᵗ)/(1−β₁ᵗ) (Double, rounded to Float), then decoupled decay
/// W ← W − lr·wd·W AFTER the update (as SOAP, so rotated AdaFactor in the identity basis is exactly this).
/// No first-call skip. State: `opt.<p>.step`, `.m`, and `.r` [rows], `.c` [cols] or `.v`.
public struct AdaFactor: Optimizer {
    public let config: AdaFactorConfig
    public let layout: ArenaLayout
    public var kind: OptimizerKind { .adafactor }
    private var states: [FactoredState?]
    /// Column sums in Double, reused by every factored update.
    private var columnSums: [Double] = []
    /// r / mean(r), reused by every factored update.
    private var rowScale: [Float] = []

    struct FactoredState: Sendable {
        var step = 0
        var m: [Float]
        /// Full second moment (vectors, scalars) — empty when factored.
        var v: [Float]
        var r: [Float]
        var c: [Float]
    }

    public init(config: AdaFactorConfig = AdaFactorConfig(), layout: ArenaLayout) throws {
        try config.validate()
        for spec in layout.specs where spec.role == .matrix || spec.role == .embedding { _ = try Check.matrixShape(spec) }
        self.config = config
        self.layout = layout
        states = Array(repeating: nil, count: layout.specs.count)
    }

    static func isFactored(_ spec: TensorSpec) -> Bool { spec.role == .matrix || spec.role == .embedding }

    public mutating func step(parameters: FloatArena, gradients: FloatArena, learningRate: Float) throws {
        try Check.stepInputs(layout: layout, parameters: parameters, gradients: gradients, learningRate: learningRate)
        let eps = Float(config.epsilon)
        let decay = Float(Double(learningRate) * config.weightDecay)
        for (index, spec) in layout.specs.enumerated() {
            let factored = Self.isFactored(spec)
            let rows = factored ? spec.shape[0] : 1
            let cols = spec.count / rows
            var state = states[index] ?? FactoredState(
                m: Array(repeating: 0, count: spec.count),
                v: factored ? [] : Array(repeating: 0, count: spec.count),
                r: factored ? Array(repeating: 0, count: rows) : [],
                c: factored ? Array(repeating: 0, count: cols) : []
            )
            states[index] = nil  // keeps `state` uniquely referenced: its arrays update in place
            state.step += 1
            let alpha = hfStepSize(learningRate: learningRate, beta1: config.beta1, beta2: config.beta2, step: state.step)
            let w = parameters.view(index), g = gradients.view(index)
            let decays = config.decayedRoles.contains(spec.role) && config.weightDecay > 0
            momentumUpdate(&state.m, g.baseAddress!, beta1: config.beta1)
            if factored {
                FactoredSecondMoment.update(r: &state.r, c: &state.c, g: g.baseAddress!, rows: rows, cols: cols,
                                            beta2: config.beta2, columnSums: &columnSums)
                FactoredSecondMoment.rowScale(state.r, into: &rowScale)
                FactoredSecondMoment.applyUpdate(w: w, m: state.m, rowScale: rowScale, c: state.c, rows: rows, cols: cols,
                                                 alpha: alpha, eps: eps)
            } else {
                fullSecondMomentStep(w: w, m: state.m, v: &state.v, g: UnsafeBufferPointer(g), beta2: config.beta2, alpha: alpha, eps: eps)
            }
            if decays { decayAfterUpdate(w, decay) }
            states[index] = state
        }
    }

    public func exportState() -> [NamedTensor] {
        var writer = StateWriter()
        for (spec, state) in zip(layout.specs, states) {
            guard let state else { continue }
            writer.step(spec.name, state.step)
            writer.floats(spec.name, "m", shape: spec.shape, state.m)
            if Self.isFactored(spec) {
                writer.floats(spec.name, "r", shape: [spec.shape[0]], state.r)
                writer.floats(spec.name, "c", shape: [spec.shape[1]], state.c)
            } else {
                writer.floats(spec.name, "v", shape: spec.shape, state.v)
            }
        }
        return writer.tensors
    }

    public mutating func importState(_ tensors: [NamedTensor]) throws {
        var reader = try StateReader(tensors)
        var imported = [FactoredState?]()
        for spec in layout.specs {
            guard reader.hasState(for: spec.name) else { imported.append(nil); continue }
            let factored = Self.isFactored(spec)
            imported.append(FactoredState(
                step: try reader.step(spec.name),
                m: try reader.floats(spec.name, "m", shape: spec.shape),
                v: factored ? [] : try reader.floats(spec.name, "v", shape: spec.shape),
                r: factored ? try reader.floats(spec.name, "r", shape: [spec.shape[0]]) : [],
                c: factored ? try reader.floats(spec.name, "c", shape: [spec.shape[1]]) : []
            ))
        }
        try reader.finish()
        states = imported
    }
}

// MARK: - Shared Adam-family kernels (Float, element-wise, fixed chunks)

/// m ← β₁m + (1−β₁)g.
func momentumUpdate(_ m: inout [Float], _ g: UnsafePointer<Float>, beta1: Double) {
    let b1 = Float(beta1), c1 = Float(1 - beta1)
    let gp = SendablePointer(UnsafeMutablePointer(mutating: g))
    m.withUnsafeMutableBufferPointer { mView in
        let mp = SendablePointer(mView)
        forEachElementChunk(mView.count) { range in
            for i in range { mp[i] = b1 * mp[i] + c1 * gp[i] }
        }
    }
}

/// v ← β₂v + (1−β₂)g², then W ← W − α · m/(√v + ε).
func fullSecondMomentStep(w: UnsafeMutableBufferPointer<Float>, m: [Float], v: inout [Float], g: UnsafeBufferPointer<Float>,
                          beta2: Double, alpha: Float, eps: Float) {
    let b2 = Float(beta2), c2 = Float(1 - beta2)
    let wp = SendablePointer(w), gp = SendablePointer(UnsafeMutablePointer(mutating: g.baseAddress!))
    m.withUnsafeBufferPointer { mView in
        let mp = SendablePointer(UnsafeMutablePointer(mutating: mView.baseAddress!))
        v.withUnsafeMutableBufferPointer { vView in
            let vp = SendablePointer(vView)
            forEachElementChunk(vView.count) { range in
                for i in range {
                    vp[i] = b2 * vp[i] + c2 * (gp[i] * gp[i])
                    wp[i] = wp[i] - alpha * (mp[i] / (vp[i].squareRoot() + eps))
                }
            }
        }
    }
}

/// Decoupled decay after the update, as the official SOAP writes it: W ← W + (−lr·wd)·W.
func decayAfterUpdate(_ w: UnsafeMutableBufferPointer<Float>, _ decay: Float) {
    let wp = SendablePointer(w)
    forEachElementChunk(w.count) { range in
        for i in range { wp[i] = wp[i] - decay * wp[i] }
    }
}

/// AdaFactor's factored second moment of a rows×cols tensor (row-major).
/// Row and column means of g² + 1e-30 are accumulated in Double (rows in index order, so the result does
/// not depend on threads) and rounded to Float before the Float moving average.
enum FactoredSecondMoment {
    static let floor = 1e-30

    static func update(r: inout [Float], c: inout [Float], g: UnsafePointer<Float>, rows: Int, cols: Int,
                       beta2: Double, columnSums: inout [Double]) {
        let b2 = Float(beta2), c2 = Float(1 - beta2)
        if columnSums.count < cols { columnSums = Array(repeating: 0, count: cols) }
        columnSums.withUnsafeMutableBufferPointer { sums in
            for j in 0..<cols { sums[j] = 0 }
            for i in 0..<rows {
                var rowSum = 0.0
                for j in 0..<cols {
                    let value = Double(g[i * cols + j]) * Double(g[i * cols + j]) + floor
                    rowSum += value
                    sums[j] += value
                }
                r[i] = b2 * r[i] + c2 * Float(rowSum / Double(cols))
            }
            for j in 0..<cols { c[j] = b2 * c[j] + c2 * Float(sums[j] / Double(rows)) }
        }
    }

    /// r_i / mean(r) (mean in Double, quotient rounded to Float), so that v̂_ij = rowScale_i · c_j.
    static func rowScale(_ r: [Float], into scale: inout [Float]) {
        var sum = 0.0
        for value in r { sum += Double(value) }
        let mean = sum / Double(r.count)
        if scale.count < r.count { scale = Array(repeating: 0, count: r.count) }
        for i in r.indices { scale[i] = Float(Double(r[i]) / mean) }
    }

    /// out_ij = m_ij / (√(rowScale_i · c_j) + ε) — the preconditioned direction, written to `out`.
    static func direction(out: UnsafeMutablePointer<Float>, m: UnsafePointer<Float>, rowScale: [Float], c: [Float],
                          rows: Int, cols: Int, eps: Float) {
        for i in 0..<rows {
            let scale = rowScale[i]
            for j in 0..<cols {
                out[i * cols + j] = m[i * cols + j] / ((scale * c[j]).squareRoot() + eps)
            }
        }
    }

    /// W ← W − α · m/(√v̂ + ε).
    static func applyUpdate(w: UnsafeMutableBufferPointer<Float>, m: [Float], rowScale: [Float], c: [Float],
                            rows: Int, cols: Int, alpha: Float, eps: Float) {
        for i in 0..<rows {
            let scale = rowScale[i]
            for j in 0..<cols {
                let k = i * cols + j
                w[k] = w[k] - alpha * (m[k] / ((scale * c[j]).squareRoot() + eps))
            }
        }
    }
}
