import OLCore

/// Hyper-parameters of SGD with momentum.
public struct SGDConfig: OptimizerSettings, Equatable {
    /// Default peak learning rate for the trainer's schedule.
    public var learningRate: Double = 0.01
    /// Momentum μ (0 turns momentum off).
    public var momentum: Double = 0.9
    /// Nesterov: step along g + μ·buf instead of buf.
    public var nesterov = false
    /// L2 penalty, torch.optim.SGD's `weight_decay`: wd·W is added to the gradient before the momentum
    /// buffer (decayed roles only); 0 by default, like torch.
    public var weightDecay: Double = 0
    public var decayedRoles: Set<ParameterRole> = defaultDecayedRoles

    public init() {}

    public func validate() throws {
        try Check.learningRate(learningRate)
        try Check.beta(momentum, "momentum")
        try Check.nonNegative(weightDecay, "weight decay")
        if nesterov && momentum == 0 { throw OutlierLabError("Nesterov SGD needs momentum > 0") }
    }
    var kind: OptimizerKind { .sgd }
    static let acceptedSettings: Set<OptimizerSetting> = [.momentum, .nesterov]
    func makeOptimizer(layout: ArenaLayout) throws -> any Optimizer { try SGD(config: self, layout: layout) }

    var hyperParameters: [(name: String, value: Double)] {
        [("lr", learningRate), ("momentum", momentum), ("nesterov", nesterov ? 1 : 0), ("weight_decay", weightDecay)]
    }
}

/// SGD with momentum as torch.optim.SGD steps it (dampening 0), all roles element-wise:
///   g ← g + wd·W                    (L2 weight decay, decayed roles only)
///   buf ← g on the first call, μ·buf + g after it
///   W ← W − lr·buf, or W − lr·(g + μ·buf) with Nesterov
/// All arithmetic is Float, in torch's order. State: `opt.<p>.m` (the buffer), `opt.<p>.step`.
public struct SGD: ElementwiseOptimizer {
    public let config: SGDConfig
    public let layout: ArenaLayout
    public var kind: OptimizerKind { .sgd }
    /// Per parameter: nil until the first step.
    var states: TensorStates<MomentumState>

    struct MomentumState: TensorState {
        var step = 0
        var buffer: [Float]
    }

    public init(config: SGDConfig = SGDConfig(), layout: ArenaLayout) throws {
        try config.validate()
        self.config = config
        self.layout = layout
        states = TensorStates(count: layout.specs.count)
    }

    public mutating func step(parameters: FloatArena, gradients: FloatArena, learningRate: Float) throws {
        let config = config
        let mu = Float(config.momentum)
        let nesterov = config.nesterov
        let weightDecay = Float(config.weightDecay)
        try states.step(layout, parameters: parameters, gradients: gradients, learningRate: learningRate, decayedRoles: config.decayedRoles,
                        weightDecay: config.weightDecay, fresh: Self.fresh) { spec, state, w, g, decays in
            let first = state.step == 0
            state.buffer.withUnsafeMutableBufferPointer { bufferView in
                let buf = SendablePointer(bufferView)
                forEachElementChunk(spec.count) { range in
                    for i in range {
                        let gradient = decays ? g[i] + weightDecay * w[i] : g[i]
                        var direction = gradient
                        if mu != 0 {
                            buf[i] = first ? gradient : mu * buf[i] + gradient
                            direction = nesterov ? gradient + mu * buf[i] : buf[i]
                        }
                        w[i] = w[i] - learningRate * direction
                    }
                }
            }
            state.step += 1
        }
    }

    static func fresh(_ spec: TensorSpec) -> MomentumState { MomentumState(buffer: Array(repeating: 0, count: spec.count)) }

    /// The state table: the momentum buffer as `opt.<p>.m`.
    static func stateFields(_ spec: TensorSpec) -> [StateField<MomentumState>] {
        [StateField(name: "m", shape: spec.shape, values: \.buffer)]
    }
}
