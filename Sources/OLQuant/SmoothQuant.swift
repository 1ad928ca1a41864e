#if canImport(Glibc)
import Glibc
#else
import Darwin
#endif
import OLCore
import OLModel

// SmoothQuant (Xiao et al. 2023, *SmoothQuant: accurate and efficient post-training quantization for
// large language models*, §4, Eq. 4): per input channel j of a linear layer Y = X Wᵀ,
//   s_j = max|X_j|^α / max|W_j|^(1−α),   Y = (X diag(s)⁻¹) (W diag(s))ᵀ,
// which moves the activation's per-channel range into the weights before both are quantised per tensor.
// Linears that read one tensor share its s (qkv and the attention gate read the same x), so the
// maximum of |W_j| runs over all their rows. The DocC article SmoothQuant.md says where each 1/s goes.

/// Where a linear input's X·diag(s)⁻¹ is folded.
public enum SmoothingFold: Sendable, Equatable {
    /// Into the norm whose output the linear reads (`<prefix>.g` and `<prefix>.b` divided by s).
    case norm(String)
    /// attn_proj: into the v rows of the same block's qkv (the attention output is linear in v, and the
    /// per-head gate and a clipped softmax only scale rows of it).
    case valueRows
    /// mlp_proj after ReLU: into fc's rows (ReLU(z/s) = ReLU(z)/s for s > 0).
    case fcRows
    /// No preceding operation to fold into (the residual stream itself, SRMSNorm, GELU): the input is
    /// divided by s explicitly at the linear's input, before its quantisation.
    case explicit

    /// The spelling in result JSON.
    public var name: String {
        switch self {
        case .norm(let prefix): "norm:" + prefix
        case .valueRows: "qkv-value-rows"
        case .fcRows: "fc-rows"
        case .explicit: "explicit"
        }
    }
}

/// One linear input's smoothing scales and where their inverse goes.
public struct LinearSmoothing: Sendable, Equatable {
    public let layer: Int
    public let linear: LinearLayer
    /// s_j, one per input channel.
    public let scales: [Float]
    public let fold: SmoothingFold

    public var site: ActivationSite { .linearInput(layer: layer, linear: linear) }
}

/// The smoothing of every linear input of a model for one α: computed from per-channel activation maxima
/// (calibration on the train split) and the float weights, then folded into a clone of the parameters.
public struct SmoothQuantPlan: Sendable, Equatable {
    /// SmoothQuant's default migration strength.
    public static let defaultAlpha = 0.5
    /// Floor of max|X_j| and max|W_j| before the powers, so a dead channel gets a finite scale.
    public static let floor = 1e-5

    public let alpha: Double
    /// In forward order: per block qkv, attn_proj, fc, mlp_proj.
    public let linears: [LinearSmoothing]

    /// Scales s_j = max(a_j, floor)^α / max(w_j, floor)^(1−α) in Double, rounded once to Float, with a_j
    /// from `activationMaxima` (keyed by linear-input site) and w_j = max over the rows of every weight
    /// reading that input; s_j = 1 where a_j = 0 (a channel that never fired in calibration).
    public init(config: ModelConfig, parameters: FloatArena, activationMaxima: [ActivationSite: [Float]], alpha: Double) throws {
        guard alpha.isFinite, (0...1).contains(alpha) else { throw OutlierLabError("SmoothQuant's alpha must be in [0, 1], got \(alpha)") }
        self.alpha = alpha
        linears = try (0..<config.layers).flatMap { l in
            try LinearLayer.allCases.map { linear in
                let site = ActivationSite.linearInput(layer: l, linear: linear)
                let names = Self.weights(reading: linear, layer: l, config: config)
                let columns = parameters.layout.specs[parameters.layout.index(of: names[0])!].shape[1]
                guard let maxima = activationMaxima[site], maxima.count == columns else {
                    throw OutlierLabError("SmoothQuant calibration saw no input of \(site.name)")
                }
                var weightMaxima = [Float](repeating: 0, count: columns)
                for name in names {
                    let view = parameters.view(name)
                    for (i, w) in view.enumerated() { weightMaxima[i % columns] = max(weightMaxima[i % columns], abs(w)) }
                }
                // A channel that never fired in calibration (max|X_j| = 0, e.g. a dead ReLU unit) has nothing to
                // migrate: s_j = 1. A floor-sized s_j would multiply its producing row (fc's, for mlp_proj) by
                // ~1e3 and set that weight's whole per-tensor range.
                let scales = (0..<columns).map { j -> Float in
                    guard maxima[j] > 0 else { return 1 }
                    return Float(pow(max(Double(maxima[j]), Self.floor), alpha) / pow(max(Double(weightMaxima[j]), Self.floor), 1 - alpha))
                }
                return LinearSmoothing(layer: l, linear: linear, scales: scales, fold: Self.fold(linear, layer: l, config: config))
            }
        }
    }

    /// The weights that read the input of `linear` in block `l`: the attention gate reads qkv's input.
    static func weights(reading linear: LinearLayer, layer l: Int, config: ModelConfig) -> [String] {
        switch linear {
        case .qkv: ["h\(l).attn.qkv"] + (config.gatedAttention ? ["h\(l).attn.gate"] : [])
        case .attnProj: ["h\(l).attn.proj"]
        case .fc: ["h\(l).mlp.fc"]
        case .mlpProj: ["h\(l).mlp.proj"]
        }
    }

    /// Where 1/s of `linear`'s input goes in block `l`: a preceding norm with a gain, the producing linear,
    /// or nowhere (explicit).
    static func fold(_ linear: LinearLayer, layer l: Int, config: ModelConfig) -> SmoothingFold {
        let recipe = config.block.recipe
        let hasGain = recipe.preNorm.map { $0 != .srmsNorm } ?? false
        switch linear {
        case .qkv:
            if hasGain { return .norm("h\(l).ln1") }
            return recipe.normsFirstAttentionInput && l == 0 ? .norm("h0.ln0") : .explicit
        case .attnProj: return .valueRows
        case .fc: return hasGain ? .norm("h\(l).ln2") : .explicit
        case .mlpProj: return config.activation == .relu ? .fcRows : .explicit
        }
    }

    /// Folds every scale into `arena` (a clone of the float parameters): W[:, j] ← W[:, j]·s_j for every
    /// weight reading the input, and 1/s_j into the fold target (gain and bias, value rows or fc rows)
    /// by division. Explicit inputs are divided at run time (`explicitScales`).
    public func fold(into arena: FloatArena, config: ModelConfig) {
        for smoothing in linears {
            let s = smoothing.scales, columns = s.count
            for name in Self.weights(reading: smoothing.linear, layer: smoothing.layer, config: config) {
                let view = arena.view(name)
                for i in view.indices { view[i] *= s[i % columns] }
            }
            switch smoothing.fold {
            case .norm(let prefix):
                for suffix in [".g", ".b"] where arena.layout.index(of: prefix + suffix) != nil {
                    let view = arena.view(prefix + suffix)
                    for j in 0..<columns { view[j] /= s[j] }
                }
            case .valueRows:
                let qkv = arena.view("h\(smoothing.layer).attn.qkv"), C = columns
                for j in 0..<C { for c in 0..<C { qkv[(2 * C + j) * C + c] /= s[j] } }
            case .fcRows:
                let fc = arena.view("h\(smoothing.layer).mlp.fc"), C = config.width
                for j in 0..<columns { for c in 0..<C { fc[j * C + c] /= s[j] } }
            case .explicit:
                break
            }
        }
    }

    /// The scales of the inputs divided explicitly, by site.
    public var explicitScales: [ActivationSite: [Float]] {
        Dictionary(uniqueKeysWithValues: linears.filter { $0.fold == .explicit }.map { ($0.site, $0.scales) })
    }

    /// The plan as result JSON records it: α and, per linear input, where its 1/s went.
    public var json: JSONValue {
        .object([
            JSONMember("alpha", .double(alpha)),
            JSONMember("floor", .double(Self.floor)),
            JSONMember("folds", .object(linears.map { JSONMember($0.site.name, .string($0.fold.name)) })),
        ])
    }

    /// max_n |X_nj| per input channel of every linear input, over the calibration batches of the TRAIN
    /// split run through the float model (`StaticCalibration`'s crops; its momentum and percentile are
    /// not used: SmoothQuant takes the plain maximum).
    public static func channelMaxima(config: ModelConfig, parameters: FloatArena,
                                     calibration: StaticCalibration) throws -> [ActivationSite: [Float]] {
        let observer = ChannelMaximumObserver()
        try QuantizedModel.runCalibrationBatches(config: config, parameters: parameters, calibration: calibration, transform: observer) {
            if let failure = observer.failure { throw failure }
        }
        return observer.maxima
    }
}

/// Divides the linear inputs that have no preceding operation to fold into by their smoothing scales
/// (x[:, j] / s_j): with the folded parameters, the smoothed float model. `QuantizingTransform` applies it
/// before quantising; on its own it gives the float model that `w8a8-smooth` quantises.
public final class SmoothingTransform: ActivationTransform {
    /// s by linear-input site.
    public let scales: [ActivationSite: [Float]]

    public init(scales: [ActivationSite: [Float]]) { self.scales = scales }

    public func transform(_ site: ActivationSite, _ values: UnsafeMutableBufferPointer<Float>, rows: Int, cols: Int) {
        guard let s = scales[site] else { return }
        for r in 0..<rows { for c in 0..<cols { values[r * cols + c] /= s[c] } }
    }
}

/// Keeps the per-column maximum of |x| at every linear input (never rewrites).
final class ChannelMaximumObserver: ActivationTransform {
    var maxima: [ActivationSite: [Float]] = [:]
    var failure: Error?

    func transform(_ site: ActivationSite, _ values: UnsafeMutableBufferPointer<Float>, rows: Int, cols: Int) {
        guard site.isLinearInput, failure == nil else { return }
        var maximum = maxima[site] ?? [Float](repeating: 0, count: cols)
        for r in 0..<rows {
            for c in 0..<cols {
                let x = values[r * cols + c]
                guard x.isFinite else {
                    failure = OutlierLabError("SmoothQuant calibration at \(site.name): non-finite activation \(x) in row \(r), column \(c)")
                    return
                }
                maximum[c] = max(maximum[c], abs(x))
            }
        }
        maxima[site] = maximum
    }
}
