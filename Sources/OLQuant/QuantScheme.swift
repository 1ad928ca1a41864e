import OLCore

/// Post-training quantisation schemes (<doc:Quantisation>). The names keep the paper's "8" even when `bits` selects
/// 6 or 4 for an ablation; the bit width always comes from `QuantSettings.bits`.
public enum QuantScheme: String, Sendable, CaseIterable, Codable {
    /// Per-tensor weights, per-tensor dynamic activations at every linear input (most outlier-sensitive).
    case w8a8Naive = "w8a8-naive"
    /// Per-output-channel weights, per-token dynamic activations.
    case w8a8Fine = "w8a8-fine"
    /// Per-tensor weights with MSE-searched clipping; asymmetric uint8 activations with static
    /// calibrated ranges (the OPT-125m-style protocol).
    case w8a8Static = "w8a8-static"
    /// Weights as in `w8a8-naive`, activations left in float32.
    case w8Only = "w8-only"
    /// Activations as in `w8a8-naive`, weights left in float32.
    case a8Only = "a8-only"
    /// SmoothQuant (Xiao et al. 2023): per-channel scales from calibration folded into the weights and
    /// the preceding norm or linear, then quantised as `w8a8-naive`.
    case w8a8Smooth = "w8a8-smooth"

    /// The scheme named `text`, or a one-line error listing the valid names.
    public static func parse(_ text: String) throws -> QuantScheme {
        guard let scheme = QuantScheme(rawValue: text) else {
            let names = allCases.map(\.rawValue).joined(separator: ", ")
            throw OutlierLabError("unknown quantisation scheme '\(text)'; expected one of: \(names)")
        }
        return scheme
    }

    /// How this scheme quantises weights; nil leaves them in float32.
    public var weights: WeightQuantization? {
        switch self {
        case .w8a8Naive, .w8Only, .w8a8Smooth: .perTensor
        case .w8a8Fine: .perOutputChannel
        case .w8a8Static: .perTensorMSEClipped
        case .a8Only: nil
        }
    }

    /// How this scheme quantises activations; nil leaves them in float32.
    public var activations: ActivationQuantization? {
        switch self {
        case .w8a8Naive, .a8Only, .w8a8Smooth: .perTensorDynamic
        case .w8a8Fine: .perTokenDynamic
        case .w8a8Static: .staticAsymmetric
        case .w8Only: nil
        }
    }
}

extension QuantScheme {
    /// Whether the scheme needs calibration batches from the train split (static ranges, smoothing scales).
    /// What the scheme quantises, in a few words (report prose).
    public var summary: String {
        switch self {
        case .w8a8Naive: "weights and activations per tensor, activations dynamic"
        case .w8a8Fine: "per-output-channel weights and per-token activations (the fine-grained control)"
        case .w8a8Static: "the paper's static OPT protocol: calibrated ranges, residual sums and norm outputs included"
        case .w8Only: "weights only, activations float"
        case .a8Only: "activations only, weights float"
        case .w8a8Smooth: "SmoothQuant's smoothing, then weights and activations per tensor"
        }
    }

    public var calibrates: Bool { self == .w8a8Static || self == .w8a8Smooth }
}

/// Weight granularity of a scheme.
public enum WeightQuantization: Sendable, Equatable {
    /// Symmetric, one absmax scale per tensor.
    case perTensor
    /// Symmetric, one absmax scale per output channel (row of the (OC, C) weight).
    case perOutputChannel
    /// Symmetric, one scale per tensor from `mseClippingSearch`.
    case perTensorMSEClipped
}

/// Activation granularity of a scheme.
public enum ActivationQuantization: Sendable, Equatable {
    /// Symmetric, one absmax scale over the whole evaluation batch.
    case perTensorDynamic
    /// Symmetric, one absmax scale per token row.
    case perTokenDynamic
    /// Asymmetric unsigned, static calibrated (min, max) per tensor from a `RangeObserver`.
    case staticAsymmetric
}

/// A scheme with its bit width, validated.
public struct QuantSettings: Sendable, Equatable, Codable {
    /// Bit widths the experiments use.
    public static let supportedBits = [8, 6, 4]

    public let scheme: QuantScheme
    public let bits: Int
    /// SmoothQuant's migration strength α as given (`w8a8-smooth` only); nil: `SmoothQuantPlan.defaultAlpha`.
    public let alpha: Double?

    public init(scheme: QuantScheme, bits: Int = 8, alpha: Double? = nil) throws {
        guard Self.supportedBits.contains(bits) else {
            throw OutlierLabError("unsupported quantisation bit width \(bits); expected one of: 8, 6, 4")
        }
        if let alpha {
            guard scheme == .w8a8Smooth else { throw OutlierLabError("--alpha applies to w8a8-smooth only, not \(scheme.rawValue)") }
            guard alpha.isFinite, (0...1).contains(alpha) else { throw OutlierLabError("--alpha must be in [0, 1], got \(alpha)") }
        }
        self.scheme = scheme
        self.bits = bits
        self.alpha = alpha
    }

    /// Parses a scheme name and a bit width (and α for `w8a8-smooth`).
    public init(parsing name: String, bits: Int = 8, alpha: Double? = nil) throws {
        try self.init(scheme: QuantScheme.parse(name), bits: bits, alpha: alpha)
    }

    /// α as `w8a8-smooth` uses it.
    public var resolvedAlpha: Double { alpha ?? SmoothQuantPlan.defaultAlpha }
}
