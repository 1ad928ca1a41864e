import OLCore

/// Hyper-parameters of AdaFactor in its "Adam with a factored second moment" form.
public struct AdaFactorConfig: AdamFamilySettings, OptimizerSettings, Equatable {
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

    public func validate() throws { try validateAdamFamily() }
    var kind: OptimizerKind { .adafactor }
    /// `eps_convention` only as `hf`, the one it implements (the trainer refuses `torch`).
    static let acceptedSettings: Set<OptimizerSetting> = [.beta1, .beta2, .eps, .epsConvention]
    func makeOptimizer(layout: ArenaLayout) throws -> any Optimizer { try AdaFactor(config: self, layout: layout) }

    var hyperParameters: [(name: String, value: Double)] {
        [("lr", learningRate), ("beta1", beta1), ("beta2", beta2), ("eps", epsilon), ("weight_decay", weightDecay)]
    }
}

extension AdaFactorConfig {
    /// Rotated AdaFactor in the identity basis (no rotation, no first-call skip): the same optimiser.
    var identityBasis: SOAPConfig {
        var config = SOAPConfig.rotatedAdafactor()
        config.basis = .identity
        config.learningRate = learningRate
        config.beta1 = beta1
        config.beta2 = beta2
        config.epsilon = epsilon
        config.weightDecay = weightDecay
        config.decayedRoles = decayedRoles
        return config
    }
}

/// AdaFactor as the paper uses it: Adam whose second moment of a 2-D tensor (matrix or embedding role)
/// is factored into row and column statistics,
///   r ← β₂r + (1−β₂)·rowmean(g²+1e-30),  c ← β₂c + (1−β₂)·colmean(g²+1e-30),  v̂ = r cᵀ / mean(r);
/// vectors and scalars keep a full v. SOAP's conventions otherwise: t ← t+1, m ← β₁m + (1−β₁)g,
/// W ← W − α · m/(√v̂ + ε) with α = lr·√(1−β₂ᵗ)/(1−β₁ᵗ) (Double, rounded to Float), then decoupled decay
/// W ← W − lr·wd·W AFTER the update. It is rotated AdaFactor in the identity basis (`SOAPConfig.Basis.identity`)
/// and runs as exactly that. No first-call skip. State: `opt.<p>.step`, `.m`, and `.r` [rows], `.c` [cols] or `.v`.
public struct AdaFactor: Optimizer {
    public let config: AdaFactorConfig
    private var rotated: SOAP
    public var layout: ArenaLayout { rotated.layout }
    public var kind: OptimizerKind { .adafactor }

    public init(config: AdaFactorConfig = AdaFactorConfig(), layout: ArenaLayout) throws {
        try config.validate()
        self.config = config
        rotated = try SOAP(config: config.identityBasis, layout: layout)
    }

    public mutating func step(parameters: FloatArena, gradients: FloatArena, learningRate: Float) throws {
        try rotated.step(parameters: parameters, gradients: gradients, learningRate: learningRate)
    }

    public func exportState() -> [NamedTensor] { rotated.exportState() }

    public mutating func importState(_ tensors: [NamedTensor]) throws { try rotated.importState(tensors) }
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
    static let floor = OptimizerConstants.factoredFloor

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
}
