import OLCore
import OLOptimizers

extension TrainingConfig {
    /// The optimiser's spec defaults overridden by every hyper-parameter this config sets. A setting the
    /// chosen optimiser does not have (e.g. `momentum` for AdamW) is an error, not silently ignored.
    public func optimizerConfig() throws -> OptimizerConfig {
        let kind = optimizerKind, convention = epsilonConvention
        let defaults = OptimizerConfig.defaults(for: kind)
        let given: [(key: String, isSet: Bool)] = [
            ("beta1", beta1 != nil), ("beta2", beta2 != nil), ("eps", eps != nil), ("eps_convention", convention != nil),
            ("momentum", momentum != nil), ("nesterov", nesterov != nil),
            ("precondition_frequency", preconditionFrequency != nil), ("shampoo_beta", shampooBeta != nil),
            ("precondition_embeddings", !preconditionEmbeddings),  // true is every optimiser's behaviour
        ]
        let accepted = Self.optimizerKeys(defaults)
        if let key = given.first(where: { $0.isSet && !accepted.contains($0.key) })?.key {
            throw OutlierLabError("\(key) does not apply to optimizer \(kind.rawValue)")
        }
        let resolved: OptimizerConfig
        switch defaults {
        case .sgd(var c):
            c.learningRate = lr ?? c.learningRate
            c.momentum = momentum ?? c.momentum
            c.nesterov = nesterov ?? c.nesterov
            c.weightDecay = weightDecay ?? c.weightDecay
            resolved = .sgd(c)
        case .adamw(var c):
            applyAdamSettings(to: &c)
            c.epsConvention = convention ?? c.epsConvention
            resolved = .adamw(c)
        case .adafactor(var c):
            try requireOwnConvention(convention, kind)
            applyAdamSettings(to: &c)
            resolved = .adafactor(c)
        case .rotated(var c):
            try requireOwnConvention(convention, kind)
            applyAdamSettings(to: &c)
            c.preconditionFrequency = preconditionFrequency ?? c.preconditionFrequency
            c.shampooBeta = shampooBeta ?? c.shampooBeta
            c.preconditionEmbeddings = preconditionEmbeddings
            resolved = .rotated(c)
        }
        try resolved.validate()
        return resolved
    }

    /// The optimiser-specific keys (beyond lr and weight_decay, which every optimiser takes) an
    /// optimiser accepts.
    static func optimizerKeys(_ config: OptimizerConfig) -> Set<String> {
        switch config {
        case .sgd: ["momentum", "nesterov"]
        case .adamw: ["beta1", "beta2", "eps", "eps_convention"]
        case .adafactor: ["beta1", "beta2", "eps", "eps_convention"]
        case .rotated: ["beta1", "beta2", "eps", "eps_convention", "precondition_frequency", "shampoo_beta", "precondition_embeddings"]
        }
    }

    /// AdaFactor and the SOAP family implement only the `hf` convention (ε added to √v, bias correction in
    /// the step size, decay after the update); naming it lets one config state the same convention for
    /// every optimiser it compares, and naming `torch` for them is an error, not silently ignored.
    private func requireOwnConvention(_ convention: EpsConvention?, _ kind: OptimizerKind) throws {
        if let convention, convention != .hf {
            throw OutlierLabError("eps_convention \(convention.rawValue) does not apply to optimizer \(kind.rawValue), which implements only the hf convention")
        }
    }

    /// lr, β₁, β₂, ε and weight decay, shared by AdamW, AdaFactor and the SOAP family.
    private func applyAdamSettings<C: AdamFamilySettings>(to c: inout C) {
        c.learningRate = lr ?? c.learningRate
        c.beta1 = beta1 ?? c.beta1
        c.beta2 = beta2 ?? c.beta2
        c.epsilon = eps ?? c.epsilon
        c.weightDecay = weightDecay ?? c.weightDecay
    }
}
