import OLCore

/// Hyper-parameters of SOAP and of the two optimisers built on its machinery (rotated AdaFactor and the
/// random-rotation Adam ablation).
public struct SOAPConfig: AdamFamilySettings, OptimizerSettings, Equatable {
    /// How the rotated second moment is kept.
    public enum SecondMoment: String, Sendable, Equatable, Codable {
        /// Element-wise V (SOAP).
        case full
        /// AdaFactor's row/column factors (r, c) of V in the rotated coordinates (rotated AdaFactor).
        case factored
    }

    /// Where the rotation comes from.
    public enum Basis: Sendable, Equatable {
        /// Eigenvectors of Shampoo's GG statistics, refreshed every `preconditionFrequency` steps (SOAP).
        case shampoo
        /// A fixed, Haar-distributed random orthogonal basis per side: the Q factor of a QR of an n×n
        /// standard-normal matrix drawn from the stream `opt.random-rotation.<param>.L|R` under `seed`,
        /// columns multiplied by sign(diag R) (the ablation).
        case random(seed: UInt64)
        /// No rotation and no first-call skip: rotated AdaFactor in this basis is AdaFactor (`AdaFactor`).
        case identity
    }

    /// Default peak learning rate for the trainer's schedule.
    public var learningRate: Double = 3e-3
    public var beta1: Double = 0.95
    public var beta2: Double = 0.95
    /// β_s of the GG moving averages; β₂ when nil.
    public var shampooBeta: Double? = nil
    public var epsilon: Double = 1e-8
    /// Decoupled decay, applied AFTER the update.
    public var weightDecay: Double = 0.01
    /// f: refresh the eigenbasis every f steps.
    public var preconditionFrequency: Int = 10
    /// Axes longer than this are not rotated (identity on that side).
    public var maxPreconditionedDimension: Int = 10000
    /// Rotate embedding tables (wte, which is also the tied head, and wpe) like matrices, on every axis
    /// ≤ `maxPreconditionedDimension`, as soap.py does for every 2-D parameter. Off: they get the identity
    /// basis (plain Adam / AdaFactor after the skipped first call), an ablation.
    public var preconditionEmbeddings = true
    public var secondMoment: SecondMoment = .full
    public var basis: Basis = .shampoo
    /// The official soap.py rotates M back and forward on every step; with this off (default) we do it only
    /// when the basis changes (t % f == 0). The skipped round trip is the identity up to Float rounding
    /// (Q is not exactly orthogonal in Float), so the two settings agree to ~1e-7 relative, not bitwise.
    public var rotateMomentumEveryStep = false
    public var decayedRoles: Set<ParameterRole> = defaultDecayedRoles

    public init() {}

    /// SOAP's machinery with AdaFactor's factored second moment (the paper's "Shampoo"/rotated AdaFactor arm).
    public static func rotatedAdafactor() -> SOAPConfig {
        var config = SOAPConfig()
        config.secondMoment = .factored
        return config
    }

    /// Adam in a fixed, seeded random orthogonal basis (an ablation: rotation without Shampoo's statistics).
    public static func randomRotation(seed: UInt64 = 0) -> SOAPConfig {
        var config = SOAPConfig()
        config.basis = .random(seed: seed)
        return config
    }

    public var kind: OptimizerKind {
        switch basis {
        case .random: .adamRandomRotation
        case .identity: .adafactor
        case .shampoo: secondMoment == .factored ? .rotatedAdafactor : .soap
        }
    }

    var shampooBetaOrBeta2: Double { shampooBeta ?? beta2 }

    /// `eps_convention` only as `hf`, the one the family implements (the trainer refuses `torch`).
    static let acceptedSettings: Set<OptimizerSetting> = [.beta1, .beta2, .eps, .epsConvention, .preconditionFrequency, .shampooBeta,
                                                          .preconditionEmbeddings]

    func makeOptimizer(layout: ArenaLayout) throws -> any Optimizer { try SOAP(config: self, layout: layout) }

    public func validate() throws {
        try validateAdamFamily(extraBeta: (shampooBetaOrBeta2, "shampoo beta"))
        guard preconditionFrequency >= 1 else {
            throw OutlierLabError("precondition frequency f must be ≥ 1, got \(preconditionFrequency)")
        }
        guard maxPreconditionedDimension >= 0 else {
            throw OutlierLabError("max preconditioned dimension must be ≥ 0, got \(maxPreconditionedDimension)")
        }
        if case .random = basis, secondMoment == .factored {
            throw OutlierLabError("the random-rotation ablation uses a full second moment, not a factored one")
        }
    }

    var hyperParameters: [(name: String, value: Double)] {
        var values: [(name: String, value: Double)] = [
            ("lr", learningRate), ("beta1", beta1), ("beta2", beta2), ("shampoo_beta", shampooBetaOrBeta2),
            ("eps", epsilon), ("weight_decay", weightDecay), ("precondition_frequency", Double(preconditionFrequency)),
            ("max_precond_dim", Double(maxPreconditionedDimension)), ("precondition_embeddings", preconditionEmbeddings ? 1 : 0),
            ("factored_second_moment", secondMoment == .factored ? 1 : 0),
            ("rotate_momentum_every_step", rotateMomentumEveryStep ? 1 : 0),
        ]
        if case .random(let seed) = basis { values.append(("rotation_seed", Double(seed))) }
        return values
    }
}
