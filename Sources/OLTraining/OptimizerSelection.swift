import OLCore
import OLOptimizers

extension TrainingConfig {
    /// The optimiser kind named by `optimizer`.
    public var optimizerKind: OptimizerKind {
        get throws {
            guard let kind = OptimizerKind(rawValue: optimizer) else {
                throw OutlierLabError("optimizer must be one of \(OptimizerKind.allCases.map(\.rawValue).joined(separator: "|")), got '\(optimizer)'")
            }
            return kind
        }
    }

    /// The optimiser's spec defaults overridden by every hyper-parameter this config sets. A setting the
    /// chosen optimiser does not have (e.g. `momentum` for AdamW) is an error, not silently ignored.
    public func optimizerConfig() throws -> OptimizerConfig {
        let kind = try optimizerKind
        func reject(_ value: Any?, _ key: String) throws {
            if value != nil { throw OutlierLabError("\(key) does not apply to optimizer \(kind.rawValue)") }
        }
        var convention: EpsConvention?
        if let name = epsConvention {
            guard let parsed = EpsConvention(rawValue: name) else {
                throw OutlierLabError("eps_convention must be torch|hf, got '\(name)'")
            }
            convention = parsed
        }
        let resolved: OptimizerConfig
        switch OptimizerConfig.defaults(for: kind) {
        case .sgd(var c):
            try reject(beta1, "beta1"); try reject(beta2, "beta2"); try reject(eps, "eps"); try reject(convention, "eps_convention")
            try reject(preconditionFrequency, "precondition_frequency"); try reject(shampooBeta, "shampoo_beta")
            c.learningRate = lr ?? c.learningRate
            c.momentum = momentum ?? c.momentum
            c.nesterov = nesterov ?? c.nesterov
            c.weightDecay = weightDecay ?? c.weightDecay
            resolved = .sgd(c)
        case .adamw(var c):
            try reject(momentum, "momentum"); try reject(nesterov, "nesterov")
            try reject(preconditionFrequency, "precondition_frequency"); try reject(shampooBeta, "shampoo_beta")
            c.learningRate = lr ?? c.learningRate
            c.beta1 = beta1 ?? c.beta1
            c.beta2 = beta2 ?? c.beta2
            c.epsilon = eps ?? c.epsilon
            c.epsConvention = convention ?? c.epsConvention
            c.weightDecay = weightDecay ?? c.weightDecay
            resolved = .adamw(c)
        case .adafactor(var c):
            try reject(momentum, "momentum"); try reject(nesterov, "nesterov"); try reject(convention, "eps_convention")
            try reject(preconditionFrequency, "precondition_frequency"); try reject(shampooBeta, "shampoo_beta")
            c.learningRate = lr ?? c.learningRate
            c.beta1 = beta1 ?? c.beta1
            c.beta2 = beta2 ?? c.beta2
            c.epsilon = eps ?? c.epsilon
            c.weightDecay = weightDecay ?? c.weightDecay
            resolved = .adafactor(c)
        case .rotated(var c):
            try reject(momentum, "momentum"); try reject(nesterov, "nesterov"); try reject(convention, "eps_convention")
            c.learningRate = lr ?? c.learningRate
            c.beta1 = beta1 ?? c.beta1
            c.beta2 = beta2 ?? c.beta2
            c.epsilon = eps ?? c.epsilon
            c.weightDecay = weightDecay ?? c.weightDecay
            c.preconditionFrequency = preconditionFrequency ?? c.preconditionFrequency
            c.shampooBeta = shampooBeta ?? c.shampooBeta
            resolved = .rotated(c)
        }
        try resolved.validate()
        return resolved
    }
}
