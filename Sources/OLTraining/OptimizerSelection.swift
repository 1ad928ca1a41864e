import OLCore
import OLOptimizers

extension TrainingConfig {
    /// The optimiser's spec defaults overridden by every hyper-parameter this config sets. A setting the
    /// chosen optimiser does not accept (e.g. `momentum` for AdamW) is an error, not silently ignored.
    /// The learning rate is not among them: it goes to the schedule (`learningRateSchedule`), which
    /// passes each step's rate to the optimiser.
    public func optimizerConfig() throws -> OptimizerConfig {
        let kind = optimizerKind, convention = epsilonConvention
        let defaults = OptimizerConfig.defaults(for: kind)
        let refused = Self.keys.first { key in
            guard let setting = key.setting else { return false }
            return !defaults.acceptedSettings.contains(setting) && key.isSet(in: self)
        }
        if let refused { throw OutlierLabError("\(refused.name) does not apply to optimizer \(kind.rawValue)") }
        let resolved: OptimizerConfig
        switch defaults {
        case .sgd(var c):
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

    /// AdaFactor and the SOAP family implement only the `hf` convention (ε added to √v, bias correction in
    /// the step size, decay after the update); naming it lets one config state the same convention for
    /// every optimiser it compares, and naming `torch` for them is an error, not silently ignored.
    private func requireOwnConvention(_ convention: EpsConvention?, _ kind: OptimizerKind) throws {
        if let convention, convention != .hf {
            throw OutlierLabError("eps_convention \(convention.rawValue) does not apply to optimizer \(kind.rawValue), which implements only the hf convention")
        }
    }

    /// β₁, β₂, ε and weight decay, shared by AdamW, AdaFactor and the SOAP family.
    private func applyAdamSettings<C: AdamFamilySettings>(to c: inout C) {
        c.beta1 = beta1 ?? c.beta1
        c.beta2 = beta2 ?? c.beta2
        c.epsilon = eps ?? c.epsilon
        c.weightDecay = weightDecay ?? c.weightDecay
    }
}
