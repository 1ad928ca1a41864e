import OLCore
import OLPlatform

/// An optimiser steps every tensor of a parameter arena from a gradient arena of the same layout.
///
/// Conventions shared by all optimisers:
/// - The learning rate is passed to every `step` (the schedule is the trainer's job); a config's
///   `learningRate` is only the default peak the trainer schedules from.
/// - Tensors route by `ParameterRole`: matrices (and, where an optimiser says so, embeddings) get the
///   matrix rule, vectors and scalars the element-wise rule. Weight decay is decoupled and applies to the
///   roles in the config's `decayedRoles` (matrix and embedding by default).
/// - `step` first checks the layouts, the learning rate and that every gradient is finite; a bad input
///   throws before any state or parameter changes, so a failed step can be retried or reported.
/// - State is a value: `exportState` gives `opt.<param>.<field>` tensors (moments float32, step counts
///   int64), and stepping after `importState(exportState())` is bitwise identical to never exporting.
///   A parameter the optimiser has not yet seen exports nothing.
public protocol Optimizer: Sendable {
    var kind: OptimizerKind { get }
    /// The layout of the parameter and gradient arenas this optimiser steps.
    var layout: ArenaLayout { get }
    mutating func step(parameters: FloatArena, gradients: FloatArena, learningRate: Float) throws
    func exportState() -> [NamedTensor]
    mutating func importState(_ tensors: [NamedTensor]) throws
}

/// The optimisers OutlierLab can train with (raw values are the config/CLI spellings).
public enum OptimizerKind: String, Sendable, CaseIterable, Codable {
    case sgd
    case adamw
    case adafactor
    case soap
    case rotatedAdafactor = "rotated-adafactor"
    case adamRandomRotation = "adam-random-rotation"
}

/// Which library's AdamW to follow: where ε enters the update and where the decoupled decay goes.
public enum EpsConvention: String, Sendable, CaseIterable, Codable {
    /// torch.optim.AdamW: decay W·(1 − lr·wd) first, then lr/(1−β₁ᵗ) · m / (√v/√(1−β₂ᵗ) + ε).
    case torch
    /// Hugging Face's AdamW (and SOAP): lr·√(1−β₂ᵗ)/(1−β₁ᵗ) · m / (√v + ε), then decay W − lr·wd·W.
    case hf
}

/// One optimiser's hyper-parameters, tagged by kind: what a run config stores and the factory builds from.
public enum OptimizerConfig: Sendable, Equatable {
    case sgd(SGDConfig)
    case adamw(AdamWConfig)
    case adafactor(AdaFactorConfig)
    /// SOAP, rotated AdaFactor and the random-rotation Adam ablation share SOAP's machinery.
    case rotated(SOAPConfig)

    /// The spec's defaults for `kind`.
    public static func defaults(for kind: OptimizerKind) -> OptimizerConfig {
        switch kind {
        case .sgd: .sgd(SGDConfig())
        case .adamw: .adamw(AdamWConfig())
        case .adafactor: .adafactor(AdaFactorConfig())
        case .soap: .rotated(SOAPConfig())
        case .rotatedAdafactor: .rotated(SOAPConfig.rotatedAdafactor())
        case .adamRandomRotation: .rotated(SOAPConfig.randomRotation())
        }
    }

    /// The hyper-parameters inside, whatever the kind.
    var settings: any OptimizerSettings {
        switch self {
        case .sgd(let c): c
        case .adamw(let c): c
        case .adafactor(let c): c
        case .rotated(let c): c
        }
    }

    public var kind: OptimizerKind { settings.kind }
    /// The settings a run's config may give this optimiser; any other is an error, not ignored.
    public var acceptedSettings: Set<OptimizerSetting> { type(of: settings).acceptedSettings }

    /// The default peak learning rate for the trainer's schedule.
    public var learningRate: Double { settings.learningRate }

    /// Every numeric hyper-parameter by name, in a fixed order (recorded in goldens as float64 scalars).
    public var hyperParameters: [(name: String, value: Double)] { settings.hyperParameters }

    /// Throws a one-line error for the first invalid hyper-parameter.
    public func validate() throws { try settings.validate() }

    /// A fresh optimiser (no state yet) for parameters laid out as `layout`.
    public func makeOptimizer(layout: ArenaLayout) throws -> any Optimizer { try settings.makeOptimizer(layout: layout) }
}

/// What every optimiser config provides, so `OptimizerConfig` forwards instead of switching.
protocol OptimizerSettings: Sendable {
    var kind: OptimizerKind { get }
    /// The settings a run's config may give this optimiser.
    static var acceptedSettings: Set<OptimizerSetting> { get }
    var learningRate: Double { get }
    var hyperParameters: [(name: String, value: Double)] { get }
    func validate() throws
    func makeOptimizer(layout: ArenaLayout) throws -> any Optimizer
}

/// The hyper-parameters the Adam-like optimisers (AdamW, AdaFactor, the SOAP family) have in common.
public protocol AdamFamilySettings: Sendable {
    var learningRate: Double { get set }
    var beta1: Double { get set }
    var beta2: Double { get set }
    var epsilon: Double { get set }
    var weightDecay: Double { get set }
}

extension AdamFamilySettings {
    /// lr ≥ 0, β₁ and β₂ in [0, 1), ε and weight decay ≥ 0, in that order.
    func validateAdamFamily(extraBeta: (value: Double, name: String)? = nil) throws {
        try Check.learningRate(learningRate)
        try Check.beta(beta1, "beta1")
        try Check.beta(beta2, "beta2")
        if let extraBeta { try Check.beta(extraBeta.value, extraBeta.name) }
        try Check.nonNegative(epsilon, "epsilon")
        try Check.nonNegative(weightDecay, "weight decay")
    }
}

extension OptimizerKind {
    /// A fresh optimiser of this kind with the spec's defaults.
    public func makeOptimizer(layout: ArenaLayout) throws -> any Optimizer {
        try OptimizerConfig.defaults(for: self).makeOptimizer(layout: layout)
    }
}

/// The roles weight decay applies to unless a config says otherwise.
public let defaultDecayedRoles: Set<ParameterRole> = [.matrix, .embedding]

// MARK: - Validation

enum Check {
    static func learningRate(_ value: Double, _ name: String = "learning rate") throws {
        guard value.isFinite, value >= 0 else {
            throw OutlierLabError("\(name) must be a finite number ≥ 0, got \(value)")
        }
    }

    static func beta(_ value: Double, _ name: String) throws {
        guard value >= 0, value < 1 else { throw OutlierLabError("\(name) must be in [0, 1), got \(value)") }
    }

    static func nonNegative(_ value: Double, _ name: String) throws {
        guard value.isFinite, value >= 0 else {
            throw OutlierLabError("\(name) must be a finite number ≥ 0, got \(value)")
        }
    }

    /// Layouts match the optimiser's, the learning rate is valid and every gradient is finite.
    /// Runs before a step touches anything, and in particular before any eigendecomposition.
    static func stepInputs(layout: ArenaLayout, parameters: FloatArena, gradients: FloatArena, learningRate: Float) throws {
        guard parameters.layout == layout else {
            throw OutlierLabError("parameter arena layout differs from the layout the optimiser was built for")
        }
        guard gradients.layout == layout else {
            throw OutlierLabError("gradient arena layout differs from the parameter layout")
        }
        try Check.learningRate(Double(learningRate))
        if let name = gradients.firstNonFiniteTensor() { throw OutlierLabError("non-finite gradient in parameter \(name)") }
    }

    /// Matrix rules need 2-D tensors.
    static func matrixShape(_ spec: TensorSpec) throws -> (rows: Int, cols: Int) {
        guard spec.shape.count == 2 else {
            throw OutlierLabError("parameter \(spec.name) has role \(spec.role.rawValue) but shape \(spec.shape); matrices must be 2-D")
        }
        return (spec.shape[0], spec.shape[1])
    }
}

// MARK: - Element-wise loops

/// Element-wise loops over big tensors run in fixed chunks (results never depend on the thread count).
@inline(__always)
func forEachElementChunk(_ count: Int, _ body: @Sendable (Range<Int>) -> Void) {
    if count < 1 << 15 { body(0 ..< count); return }
    Parallel.forEachChunk(count: count, chunkSize: 1 << 14, body)
}

/// Bias-corrected step sizes in Double, rounded once to Float (the SOAP/HF convention):
/// α = lr·√(1−β₂ᵗ)/(1−β₁ᵗ).
func hfStepSize(learningRate: Float, beta1: Double, beta2: Double, step: Int) -> Float {
    let t = Double(step)
    return Float(Double(learningRate) * (1 - OLPlatform.pow(beta2, t)).squareRoot() / (1 - OLPlatform.pow(beta1, t)))
}

/// The constants the optimisers use beyond their hyper-parameters, recorded in goldens so the NumPy
/// replay keeps none of its own.
public enum OptimizerConstants {
    /// Added to g² before AdaFactor's row and column means (rowmean(g² + 1e-30), see <doc:Optimizers>).
    public static let factoredFloor = 1e-30
    /// Added to the diagonal of GG before SOAP's first eigendecomposition (GG + 1e-30·I).
    public static let eigenRegulariser = 1e-30

    public static var json: JSONValue {
        .object(["factored_floor": .double(factoredFloor), "eigen_regulariser": .double(eigenRegulariser)])
    }
}
